"""``energynet`` command line: run, demo, sim, probe."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from console import config as config_mod

if TYPE_CHECKING:
    from console.bootstrap_chain import ChainUp

log = logging.getLogger("energynet")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("asyncua", "asyncua.client.ua_client", "asyncua.server", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except config_mod.ConfigError as exc:
        print(f"energynet: configuration error:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="energynet", description="EnergyNet grid operator console")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = p.add_subparsers(dest="command", required=True)

    def headless(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--screenshot", type=Path, help="write a PNG of the window before quitting")
        sp.add_argument("--quit-after", type=float, metavar="SECONDS", help="quit after this many seconds")
        sp.add_argument("--view", choices=["grid", "devices", "chain"], default="grid", help="view shown at start")

    run = sub.add_parser("run", help="run the console with a config file")
    run.add_argument("--config", type=Path, required=True)
    headless(run)
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="start the simulated grid and the console against it")
    demo.add_argument("--port", type=int, default=4840, help="simulator port (a free one if taken)")
    headless(demo)
    demo.set_defaults(func=_cmd_demo)

    sim = sub.add_parser("sim", help="run a field simulator")
    sim_sub = sim.add_subparsers(dest="sim", required=True)
    grid = sim_sub.add_parser("grid", help="OPC-UA server simulating a grid area")
    grid.add_argument("--host", default="127.0.0.1")
    grid.add_argument("--port", type=int, default=4840)
    grid.add_argument("--no-trips", action="store_true", help="no scheduled generator trips")
    grid.set_defaults(func=_cmd_sim_grid)

    meters = sim_sub.add_parser("meters", help="Modbus TCP fleet: SDM630 meters and SunSpec PV inverters")
    meters.add_argument("--host", default="127.0.0.1")
    meters.add_argument("--port", type=int, default=5020)
    meters.add_argument("--count", type=int, default=50, help="devices (ids 1..count); every third is an inverter")
    meters.add_argument("--houses", type=int, help="instead: N houses with a meter each (ids 1..N), rooftop PV "
                        "(100+h), batteries (150+h) and a wind farm as the last house (200+N), as in the demo")
    meters.set_defaults(func=_cmd_sim_meters)

    probe = sub.add_parser("probe", help="read points once and print them")
    probe_sub = probe.add_subparsers(dest="protocol", required=True)
    opc = probe_sub.add_parser("opcua", help="subscribe to every configured OPC-UA point")
    opc.add_argument("--config", type=Path, required=True)
    opc.add_argument("--seconds", type=float, default=3.0)
    opc.add_argument("--json", action="store_true", help="print a JSON array")
    opc.set_defaults(func=_cmd_probe_opcua)

    db = sub.add_parser("db", help="the historian database")
    db_sub = db.add_subparsers(dest="db", required=True)
    for name, func, text in (("upgrade", _cmd_db_upgrade, "migrate to the current schema"),
                             ("status", _cmd_db_status, "show revision and sample count")):
        sp = db_sub.add_parser(name, help=text)
        group = sp.add_mutually_exclusive_group()
        group.add_argument("--url", help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
        group.add_argument("--config", type=Path, help="take [historian] url from this config")
        sp.set_defaults(func=func)

    export = db_sub.add_parser("export", help="raw samples of one point as CSV")
    group = export.add_mutually_exclusive_group()
    group.add_argument("--url", help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    group.add_argument("--config", type=Path, help="take [historian] url from this config")
    export.add_argument("--point", required=True, help="point id, e.g. grid.frequency")
    export.add_argument("--from", dest="start", required=True, help="ISO time, e.g. 2026-11-25T08:00:00Z")
    export.add_argument("--to", dest="end", required=True, help="ISO time (exclusive)")
    export.add_argument("--out", type=Path, help="CSV file (default: standard output)")
    export.set_defaults(func=_cmd_db_export)

    mb = probe_sub.add_parser("modbus", help="poll every configured Modbus device once")
    mb.add_argument("--config", type=Path, required=True)
    mb.add_argument("--seconds", type=float, default=3.0)
    mb.add_argument("--json", action="store_true", help="print a JSON array")
    mb.set_defaults(func=_cmd_probe_modbus)
    ss = probe_sub.add_parser("sunspec", help="list the SunSpec models of a device")
    ss.add_argument("address", metavar="HOST[:PORT]")
    ss.add_argument("--device-id", type=int, default=1)
    ss.add_argument("--json", action="store_true")
    ss.set_defaults(func=_cmd_probe_sunspec)

    chain = sub.add_parser("chain", help="the EnergyNet contracts on a local or existing chain")
    chain_sub = chain.add_subparsers(dest="chain", required=True)
    up = chain_sub.add_parser("up", help="start a local anvil chain, deploy the suite, seed demo participants")
    up.add_argument("--port", type=int, default=8545)
    up.add_argument("--dir", type=Path, default=Path("deployments"), help="where <chainId>.json goes")
    up.add_argument("--state", type=Path, help="keep the chain in this file across restarts")
    up.set_defaults(func=_cmd_chain_up)
    dep = chain_sub.add_parser("deploy", help="deploy the suite to an existing chain with a keystore account")
    dep.add_argument("--rpc", required=True, help="JSON-RPC URL, e.g. http://127.0.0.1:8545")
    dep.add_argument("--keystore", type=Path, required=True, help="encrypted keystore of the deploying account")
    dep.add_argument("--password-env", default="ENERGYNET_KEYSTORE_PASSWORD",
                     help="environment variable holding the keystore password")
    dep.add_argument("--token", help="address of the ERC-20 to settle in (default: deploy EnergyNet Credit)")
    dep.add_argument("--fee-account", help="grid-fee account (default: the deploying account)")
    dep.add_argument("--dir", type=Path, default=Path("deployments"))
    dep.set_defaults(func=_cmd_chain_deploy)
    st = chain_sub.add_parser("status", help="node, deployment and operator account")
    st.add_argument("--config", type=Path, help="config whose [chain] section to use (default: the demo's)")
    st.add_argument("--rpc", help="override the config's RPC URL")
    st.add_argument("--deployment", type=Path, help="override the config's deployment file")
    st.set_defaults(func=_cmd_chain_status)

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("config", type=Path)
    check.set_defaults(func=_cmd_check_config)
    return p


def _launch(settings: config_mod.Settings, args: argparse.Namespace) -> int:
    from console.app import headless_fallback, run_console

    every = None
    if headless_fallback() and args.quit_after is None:
        args.screenshot = args.screenshot or Path("energynet-screen.png")
        every = 5.0
        log.warning("no display: running offscreen; the window is saved to %s every %.0f s (Ctrl+C stops)",
                    args.screenshot.resolve(), every)
    return run_console(settings, args.screenshot, args.quit_after, every, view=args.view)


def _cmd_run(args: argparse.Namespace) -> int:
    return _launch(config_mod.load(args.config), args)


def _cmd_demo(args: argparse.Namespace) -> int:
    settings = config_mod.load(config_mod.default_config_path())
    port = args.port if _port_free(args.port) else _free_port()
    settings = replace(settings, sources=tuple(
        replace(s, endpoint=f"opc.tcp://127.0.0.1:{port}/energynet/grid") if s.name == "grid-sim" else s
        for s in settings.sources
    ))
    modbus_port = 5020 if _port_free(5020) else _free_port()
    settings = replace(settings, modbus=tuple(replace(d, port=modbus_port) for d in settings.modbus))
    sims = [
        ("grid simulator", port, subprocess.Popen(
            [sys.executable, "-m", "console", "--log-level", "warning", "sim", "grid", "--port", str(port)])),
    ]
    if settings.modbus:
        houses = len({d.participant for d in settings.modbus})
        sims.append(("device fleet", modbus_port, subprocess.Popen(
            [sys.executable, "-m", "console", "--log-level", "warning", "sim", "meters", "--port", str(modbus_port),
             "--houses", str(houses)])))
    chain = None
    try:
        for what, sim_port, proc in sims:
            if not _wait_for_port(sim_port, 20.0, proc):
                print(f"energynet demo: the {what} did not start on port {sim_port}", file=sys.stderr)
                return 1
            log.info("%s on 127.0.0.1:%d (pid %d)", what, sim_port, proc.pid)
        chain, settings = _demo_chain(settings)
        return _launch(settings, args)
    finally:
        if chain is not None:
            chain.anvil.stop()
            shutil.rmtree(chain.deployment_path.parent, ignore_errors=True)  # the demo's throw-away chain files
        for _, _, proc in sims:
            proc.terminate()
        for _, _, proc in sims:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _cmd_chain_up(args: argparse.Namespace) -> int:
    from console.bootstrap_chain import DEMO_PASSWORD, chain_up

    if not _port_free(args.port):
        print(f"energynet chain up: port {args.port} is in use; pick another with --port", file=sys.stderr)
        return 1
    import signal

    # A terminated `chain up` stops its anvil instead of leaving it running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    password = _env_password("ENERGYNET_KEYSTORE_PASSWORD", DEMO_PASSWORD)
    up = chain_up(args.port, args.dir, password, args.state)
    try:
        print(json.dumps({"rpc": up.anvil.url, "chainId": up.deployment.chain_id, "deployment": str(up.deployment_path),
                          "keystore": str(up.keystore), "contracts": up.deployment.addresses}, indent=2))
        print("chain running; Ctrl+C stops it", file=sys.stderr)
        assert up.anvil.proc is not None
        up.anvil.proc.wait()
        return 0
    finally:
        up.anvil.stop()


def _env_password(var: str, default: str | None) -> str:
    import os

    value = os.environ.get(var, default)
    if value is None:
        raise SystemExit(f"energynet: set {var} to the keystore password")
    return value


def _cmd_chain_deploy(args: argparse.Namespace) -> int:
    from console.bootstrap_chain import chain_deploy

    try:
        dep, path = chain_deploy(args.rpc, args.keystore, _env_password(args.password_env, None), args.dir,
                                 args.token, args.fee_account)
    except (OSError, ValueError) as exc:
        print(f"energynet chain deploy: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"chainId": dep.chain_id, "deployment": str(path), "contracts": dep.addresses}, indent=2))
    return 0


def _cmd_chain_status(args: argparse.Namespace) -> int:
    from console.bootstrap_chain import chain_status

    settings = config_mod.load(args.config or config_mod.default_config_path()).chain
    settings = replace(settings, rpc=args.rpc or settings.rpc, deployment=args.deployment or settings.deployment)
    try:
        out = chain_status(settings)
    except (OSError, ValueError) as exc:
        print(f"energynet chain status: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    return 0 if out["up"] else 1


def _demo_chain(settings: config_mod.Settings) -> tuple[ChainUp | None, config_mod.Settings]:
    """Local anvil with the suite deployed, for the demo; the demo runs on without it if anvil is missing."""
    import tempfile

    from console.bootstrap_chain import DEMO_PASSWORD, chain_up

    port = 8545 if _port_free(8545) else _free_port()
    directory = Path(tempfile.mkdtemp(prefix="energynet-chain-"))
    try:
        up = chain_up(port, directory, DEMO_PASSWORD)
    except (OSError, RuntimeError) as exc:
        log.error("demo chain not started (%s); the console runs without the chain panel", exc)
        return None, settings
    log.info("demo chain on %s, contracts in %s", up.anvil.url, up.deployment_path)
    chain = replace(settings.chain, enabled=True, rpc=up.anvil.url, deployment=up.deployment_path,
                    keystore=up.keystore, outbox=directory / "outbox.db", publish_status_s=5.0)
    return up, replace(settings, chain=chain)


def _cmd_sim_grid(args: argparse.Namespace) -> int:
    from console.bootstrap import run_grid_simulator

    print(f"grid simulator: opc.tcp://{args.host}:{args.port}/energynet/grid (Ctrl+C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_grid_simulator(args.host, args.port, trips=not args.no_trips))
    return 0


def _cmd_sim_meters(args: argparse.Namespace) -> int:
    from console.bootstrap import run_device_fleet

    what = f"{args.houses} houses" if args.houses else f"{args.count} Modbus TCP devices"
    print(f"device fleet: {what} on {args.host}:{args.port} (Ctrl+C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_device_fleet(args.host, args.port, args.count, args.houses))
    return 0


def _cmd_probe_modbus(args: argparse.Namespace) -> int:
    from console.bootstrap import probe_modbus

    settings = config_mod.load(args.config)
    if not settings.modbus:
        print(f"energynet probe: {args.config} has no [[modbus]] devices", file=sys.stderr)
        return 2
    rows, problems = asyncio.run(probe_modbus(settings, args.seconds))
    for problem in problems:
        print(f"energynet probe: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            value = "—" if r["value"] is None else f"{r['value']:.6g}" if isinstance(r["value"], float) else r["value"]
            print(f"{r['device']:12} {r['point']:36} {value:>14} {r['unit']:6} {r['quality']}")
    return 0 if rows and not problems else 1


def _cmd_probe_sunspec(args: argparse.Namespace) -> int:
    from console.bootstrap import probe_sunspec

    host, _, port = args.address.partition(":")
    models = asyncio.run(probe_sunspec(host, int(port or 502), args.device_id))
    if args.json:
        print(json.dumps(models, indent=2))
    else:
        for m in models:
            print(f"model {m['model']:>4} at {m['address']:>5}, {m['length']:>3} registers  {m['name']}")
    return 0


def _cmd_probe_opcua(args: argparse.Namespace) -> int:
    from console.bootstrap import probe_opcua

    settings = config_mod.load(args.config)
    results, statuses = asyncio.run(probe_opcua(settings, args.seconds))
    for st in statuses:
        for problem in ([st.last_error] if st.last_error and not st.faults else []) + [f.message for f in st.faults]:
            print(f"energynet probe: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for r in results:
            value = "—" if r.value is None else f"{r.value:.6g}"
            print(f"{r.point:28} {value:>14} {r.unit:6} {r.quality}")
    return 0 if all(r.value is not None for r in results) else 1


def _db_url(args: argparse.Namespace) -> str:
    from console.bootstrap import historian_url

    if args.url:
        return str(args.url)
    settings = config_mod.load(args.config or config_mod.default_config_path())
    return historian_url(settings)


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from console.bootstrap import upgrade_database

    shown, revision = upgrade_database(_db_url(args))
    print(f"{shown}: at revision {revision}")
    return 0


def _cmd_db_status(args: argparse.Namespace) -> int:
    from console.bootstrap import database_status

    print(json.dumps(database_status(_db_url(args)), indent=2))
    return 0


def _parse_time(text: str, option: str) -> float:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"energynet db export: {option} {text!r} is not an ISO time (2026-11-25T08:00:00Z)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _cmd_db_export(args: argparse.Namespace) -> int:
    from console.bootstrap import export_samples

    start, end = _parse_time(args.start, "--from"), _parse_time(args.end, "--to")
    if end <= start:
        print("energynet db export: --to must be after --from", file=sys.stderr)
        return 2
    out = args.out.open("w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        rows = export_samples(_db_url(args), args.point, start, end, out)
    finally:
        if args.out:
            out.close()
    print(f"energynet db export: {rows} samples of {args.point}", file=sys.stderr)
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    settings = config_mod.load(args.config)
    print(f"{args.config}: OK — {len(settings.sources)} source(s), {len(settings.points)} point(s)")
    return 0


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False
