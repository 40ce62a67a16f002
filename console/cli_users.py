"""``energynet users create|unlock|list`` and ``energynet certs create|list|accept|reject|forget``.

Who acts is a console user who signs in here (``--as NAME``; the password from ENERGYNET_PASSWORD or asked
at the terminal), so the CLI meets the same permission checks and leaves the same audit entries as the
window. New users' passwords come from ENERGYNET_NEW_PASSWORD or the terminal, never the command line
(which other users of the machine can read in the process list).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

PASSWORD_ENV = "ENERGYNET_PASSWORD"
NEW_PASSWORD_ENV = "ENERGYNET_NEW_PASSWORD"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser], users: argparse.ArgumentParser | None,
                database: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the commands (console/cli.py calls this once). ``users``: the existing ``users`` parser, whose
    subcommands are extended; ``database``: adds the --url/--config options."""
    users_sub = _subparsers_of(users) if users is not None else sub.add_parser("users").add_subparsers(dest="users")
    create = users_sub.add_parser("create", help="a new console user (by an admin)")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=["operator", "analyst", "engineer", "admin"])
    _actor(create)
    database(create)
    create.set_defaults(func=_cmd_create)
    unlock = users_sub.add_parser("unlock", help="clear a user's failed logins and lock (by an admin)")
    unlock.add_argument("name")
    _actor(unlock)
    database(unlock)
    unlock.set_defaults(func=_cmd_unlock)

    certs = sub.add_parser("certs", help="OPC-UA certificates: ours, and the servers' we trust")
    certs_sub = certs.add_subparsers(dest="certs", required=True)
    make = certs_sub.add_parser("create", help="the console's OPC-UA client certificate and key")
    make.add_argument("--dir", type=Path, default=None, help="where to write client-key.pem and client-cert.der "
                      "(default: the data directory's pki/)")
    make.add_argument("--uri", default="urn:energynet:console", help="application URI (the sources' "
                      "application_uri must match)")
    make.add_argument("--host", default=None, help="host name in the certificate (default: this machine's)")
    make.add_argument("--days", type=int, default=730)
    make.add_argument("--force", action="store_true", help="replace an existing certificate")
    make.set_defaults(func=_cmd_certs_create)
    for name, text, func in (("list", "trusted and waiting server certificates", _cmd_certs_list),
                             ("accept", "trust the certificate an endpoint offered (compare its fingerprint "
                                        "with the server's first)", _cmd_certs_accept),
                             ("reject", "drop the certificate an endpoint offered (stays refused)", _cmd_certs_reject),
                             ("forget", "stop trusting an endpoint's certificate", _cmd_certs_forget)):
        sp = certs_sub.add_parser(name, help=text)
        if name != "list":
            sp.add_argument("endpoint")
        if name == "accept":
            sp.add_argument("fingerprint", help="SHA-256, colons optional")
        sp.add_argument("--trust-list", type=Path, default=None, help="default: opcua-trust.json in the data "
                        "directory")
        if name != "list":
            _actor(sp)
            database(sp)
        sp.set_defaults(func=func)


def _subparsers_of(parser: argparse.ArgumentParser) -> Any:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="users", required=True)


def _actor(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--as", dest="actor", required=True, metavar="USER",
                    help=f"who does it (signs in; password from {PASSWORD_ENV} or asked)")


def _password(env: str, prompt: str, confirm: bool = False) -> str | None:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        print(f"energynet: no terminal to ask for the password; set {env}", file=sys.stderr)
        return None
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != value:
        print("energynet: the passwords differ; nothing done", file=sys.stderr)
        return None
    return value


def _url(args: argparse.Namespace) -> str:
    from console.bootstrap_security import database_url

    return database_url(getattr(args, "url", None), getattr(args, "config", None))


def _run(coro: Coroutine[Any, Any, str]) -> int:
    from console.services.users import LoginRefused, UserError
    from core.access import PermissionDenied

    try:
        print(asyncio.run(coro))
    except (LoginRefused, UserError, PermissionDenied, ValueError, FileExistsError) as exc:
        print(f"energynet: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, PermissionDenied | LoginRefused) else 2
    return 0


def _cmd_create(args: argparse.Namespace) -> int:
    from console.bootstrap_security import user_service
    from core.access import Role

    actor_pw = _password(PASSWORD_ENV, f"password of {args.actor}: ")
    new_pw = _password(NEW_PASSWORD_ENV, f"password for the new user {args.name}: ", confirm=True)
    if actor_pw is None or new_pw is None:
        return 2

    async def go() -> str:
        with user_service(_url(args)) as users:
            by = await users.authenticate(args.actor, actor_pw, where="cli")
            made = await users.create_user(by, args.name, Role.parse(args.role), new_pw)
        return f"user {made.name} created with role {made.role.value}"

    return _run(go())


def _cmd_unlock(args: argparse.Namespace) -> int:
    from console.bootstrap_security import user_service

    actor_pw = _password(PASSWORD_ENV, f"password of {args.actor}: ")
    if actor_pw is None:
        return 2

    async def go() -> str:
        with user_service(_url(args)) as users:
            by = await users.authenticate(args.actor, actor_pw, where="cli")
            await users.unlock(by, args.name)
        return f"user {args.name} unlocked"

    return _run(go())


def _cmd_certs_create(args: argparse.Namespace) -> int:
    from console.bootstrap_security import create_client_certificate, default_pki_dir

    directory = args.dir or default_pki_dir()
    try:
        made = create_client_certificate(directory, args.uri, args.host, days=args.days, overwrite=args.force)
    except (FileExistsError, ValueError) as exc:
        print(f"energynet: {exc}", file=sys.stderr)
        return 2
    print(f"certificate {made.cert}\nkey         {made.key} (owner only)\nsubject     {made.info.subject}\n"
          f"valid until {made.info.not_after}\nSHA-256     {made.info.fingerprint}\n"
          f"Put the certificate on each server's trust list; in the config: certificate = \"{made.cert}\", "
          f"private_key = \"{made.key}\", application_uri = \"{args.uri}\"")
    return 0


def _trust(args: argparse.Namespace) -> Any:
    from console.bootstrap_security import trust_list

    return trust_list(args.trust_list)


def _cmd_certs_list(args: argparse.Namespace) -> int:
    store = _trust(args)
    trusted, pending = store.trusted(), store.pending()
    print(f"trust list {store.path}")
    for title, entries in (("trusted", trusted), ("waiting for a decision", pending)):
        print(f"{title}: {len(entries)}")
        for e in entries:
            extra = f"  (CHANGED: was {e.previous})" if e.previous else ""
            who = f" by {e.by}" if e.by else ""
            print(f"  {e.endpoint}\n    {e.cert.subject}, valid until {e.cert.not_after}{who}\n"
                  f"    SHA-256 {e.cert.fingerprint}{extra}")
    return 0


def _trust_command(args: argparse.Namespace, what: str) -> int:
    from console.bootstrap_security import trust_service, user_service

    actor_pw = _password(PASSWORD_ENV, f"password of {args.actor}: ")
    if actor_pw is None:
        return 2

    async def go() -> str:
        url = _url(args)
        with user_service(url) as users:
            by = await users.authenticate(args.actor, actor_pw, where="cli")
        with trust_service(url, args.trust_list) as trust:
            if what == "accept":
                entry = await trust.accept(by, args.endpoint, args.fingerprint)
                return f"trusted {entry.endpoint}: {entry.cert.subject}, SHA-256 {entry.cert.fingerprint}"
            done = await (trust.reject if what == "reject" else trust.forget)(by, args.endpoint)
            if not done:
                raise ValueError(f"{args.endpoint}: nothing to {what}")
            return f"{args.endpoint}: {what}ed"

    return _run(go())


def _cmd_certs_accept(args: argparse.Namespace) -> int:
    return _trust_command(args, "accept")


def _cmd_certs_reject(args: argparse.Namespace) -> int:
    return _trust_command(args, "reject")


def _cmd_certs_forget(args: argparse.Namespace) -> int:
    return _trust_command(args, "forget")
