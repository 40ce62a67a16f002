"""``energynet`` command line: run, serve, demo, sim, probe, db, chain, check-config."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from console import cli_sim, cli_users
from console.cli_traders import register as register_traders
from console.heap import pause_collector

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from console import config as config_mod
    from console.bootstrap_demo import DemoProcesses
    from console.services.probe import ProbeReport, ProbeResult
    from console.shutdown import StopRequest

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
    except Exception as exc:
        # console.config (pydantic, ~0.3 s) is imported by the commands that read a config, not here: the
        # simulators the demo starts need none. A ConfigError can only come from a command that imported it.
        config = sys.modules.get("console.config")
        if config is None or not isinstance(exc, config.ConfigError):
            raise
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
        sp.add_argument("--view", choices=["grid", "devices", "chain", "market"], default="grid",
                        help="view shown at start")
        sp.add_argument("--close-window-after", type=float, help=argparse.SUPPRESS)  # tests: the close button

    run = sub.add_parser("run", help="run the console with a config file")
    run.add_argument("--config", type=Path, help="default: the user's config file (~/.config/energynet/"
                     "energynet.toml on Linux); without one the setup wizard writes it first")
    headless(run)
    run.set_defaults(func=_cmd_run)

    setup = sub.add_parser("setup", help="the first-run wizard: config file, database, chain, admin account")
    setup.add_argument("--config", type=Path, help="the config file to write (default: the user's config file)")
    setup.set_defaults(func=_cmd_setup)

    serve = sub.add_parser("serve", help="run the services headless (no window, no Qt) with a config file")
    serve.add_argument("--config", type=Path, required=True)
    serve.add_argument("--quit-after", type=float, metavar="SECONDS", help="stop after this many seconds")
    serve.set_defaults(func=_cmd_serve)

    demo = sub.add_parser("demo", help="start the simulated grid and the console against it")
    demo.add_argument("--port", type=int, default=4840, help="OPC-UA simulator port (a free one if taken)")
    demo.add_argument("--modbus-port", type=int, default=5020, help="Modbus device fleet port (a free one if taken)")
    demo.add_argument("--chain-port", type=int, default=8545, help="anvil JSON-RPC port (a free one if taken)")
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

    world = sim_sub.add_parser("world", help="the simulated community: OPC-UA substation + Modbus devices")
    world.add_argument("--host", default="127.0.0.1")
    world.add_argument("--opcua-port", type=int, default=4841)
    world.add_argument("--modbus-port", type=int, default=5020)
    world.add_argument("--households", type=int, default=24, help="households served over Modbus (with every "
                       "business, farm and feeder end); the rest are background load (default 24)")
    world.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    world.add_argument("--scenario", type=Path, help="TOML file of timed events (resources/scenarios/)")
    world.add_argument("--seed", type=int, default=1)
    world.add_argument("--participants-out", type=Path, help="write the participants file (JSON) here")
    world.add_argument("--keys-dir", type=Path, help="the participants' keystores (default: keys/ beside the file)")
    world.add_argument("--start", help="the world clock's start, ISO 8601 (site time when no offset is given); "
                       "default: now if it is 10:00-14:00 at the site, else 11:00 site time today")
    world.set_defaults(func=_cmd_sim_world)
    register_traders(sim_sub)  # energynet sim traders
    cli_sim.register(sim_sub)

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

    alarms = sub.add_parser("alarms", help="the alarm journal")
    alarms_sub = alarms.add_subparsers(dest="alarms", required=True)
    ax = alarms_sub.add_parser("export", help="alarm journal events of a period as CSV or XLSX")
    ax.add_argument("--from", dest="start", required=True, help="ISO time, e.g. 2026-11-25T08:00:00Z")
    ax.add_argument("--to", dest="end", required=True, help="ISO time (exclusive)")
    ax.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    ax.add_argument("--out", type=Path, required=True, help="file to write")
    ax.add_argument("--config", type=Path, help="config whose [historian] database holds the journal "
                                                "(default: the shipped one)")
    ax.set_defaults(func=_cmd_alarms_export)

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
    up.add_argument("--participants", type=Path, help="register the participants of this file (written by "
                    "`sim world --participants-out`) once it exists, instead of the five dev-key houses")
    up.add_argument("--report-meters", type=float, default=60.0, metavar="S",
                    help="with --participants: the world's meters put their readings on chain every S seconds, "
                    "each with its own device key (0: off)")
    up.add_argument("--no-dr-agents", dest="dr_agents", action="store_false",
                    help="with --participants: the households do not answer demand-response events (by default "
                    "each one with a flexible load or a battery opts in and curtails, with its own key)")
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

    report = sub.add_parser("report", help="a report of a period as PDF, XLSX or CSV (non-interactive)")
    report.add_argument("kind", choices=["stability", "production", "savings", "carbon", "efficiency", "all"])
    report.add_argument("--from", dest="start", required=True, help="ISO time, e.g. 2026-11-01T00:00:00Z")
    report.add_argument("--to", dest="end", required=True, help="ISO time (exclusive)")
    report.add_argument("--format", choices=["pdf", "xlsx", "csv"], help="default: the --out file's suffix")
    report.add_argument("--out", type=Path, required=True, help="file to write")
    report.add_argument("--config", type=Path, help="config file (default: the user's energynet.toml)")
    report.add_argument("--url", help="historian database (default: [historian] url of the config)")
    report.add_argument("--site", help="site name on the title page (default: the config file's name)")
    report.add_argument("--import-tariff", type=float, default=0.30, help="grid import price per kWh (0.30)")
    report.add_argument("--export-tariff", type=float, default=0.08, help="grid export price per kWh (0.08)")
    report.add_argument("--currency", default="EUR")
    report.add_argument("--emission-factor", type=float, default=380.0, help="grid g CO2e per kWh (380)")
    report.set_defaults(func=_cmd_report)

    check = sub.add_parser("check-config", help="validate a config file, its device profiles and chain files; "
                           "exit 0 if the console can load them, 2 listing every problem")
    check.add_argument("config", type=Path)
    check.set_defaults(func=_cmd_check_config)
    _add_security_parsers(sub)
    return p


def _launch(settings: config_mod.Settings, args: argparse.Namespace, stop: StopRequest | None = None,
            demo: DemoProcesses | None = None) -> int:
    from console.app import headless_fallback, run_console

    every = None
    if headless_fallback() and args.quit_after is None:
        args.screenshot = args.screenshot or Path("energynet-screen.png")
        every = 5.0
        log.warning("no display: running offscreen; the window is saved to %s every %.0f s (Ctrl+C stops)",
                    args.screenshot.resolve(), every)
    return run_console(settings, args.screenshot, args.quit_after, every, view=args.view, stop=stop, demo=demo,
                       close_window_after=args.close_window_after)


def _cmd_run(args: argparse.Namespace) -> int:
    from console import config as config_mod
    from console.shutdown import StopRequest

    if args.config is None:  # the user's config, written by the setup wizard on the first run
        from console.services.first_run import user_config_path

        args.config = user_config_path()
        if not args.config.exists():
            written = _setup(args.config)
            if written is None:
                return 2
            args.config = written  # the operator may have chosen another place on the wizard's first page
    pause_collector()  # until the window is shown (console.heap)
    stop = StopRequest()
    stop.catch_signals_early()
    return _launch(config_mod.load(args.config), args, stop)


def _cmd_setup(args: argparse.Namespace) -> int:
    from console.services.first_run import user_config_path

    return 0 if _setup(args.config or user_config_path()) is not None else 1


def _setup(target: Path) -> Path | None:
    """The setup wizard for ``target``; the config written, or None (no display, or cancelled: said why)."""
    import os

    from console.app import headless_fallback

    if headless_fallback() or os.environ.get("QT_QPA_PLATFORM") in ("offscreen", "minimal"):
        missing = "" if target.exists() else f"no config file at {target}, and "
        print(f"energynet: {missing}no display for the setup wizard: run `energynet setup` on a desktop, or give "
              "`--config PATH` (resources/energynet.toml is a template; see docs/install.md)", file=sys.stderr)
        return None
    from console.bootstrap_setup import first_run
    from console.ui.first_run_wizard import run_wizard

    done = run_wizard(first_run(), target)
    if done is None:
        print(f"energynet setup: cancelled; nothing was written to {target}", file=sys.stderr)
        return None
    print(f"energynet setup: wrote {done.config_path}" + (f"; admin account {done.admin} created" if done.admin
                                                          else ""), file=sys.stderr)
    for note in done.notes:
        print(f"  next: {note}", file=sys.stderr)
    return done.config_path


def _cmd_serve(args: argparse.Namespace) -> int:
    """Acquisition, historian, commands and chain on a plain asyncio loop until SIGINT/SIGTERM or --quit-after."""
    from console import config as config_mod
    from console.bootstrap import build
    from console.heap import settle_heap
    from console.shutdown import StopRequest, shutdown

    stop = StopRequest()
    stop.catch_signals_early()
    application = build(config_mod.load(args.config))
    if application.chain_error:
        log.error("chain off: %s", application.chain_error)

    async def serve() -> None:
        stop.attach(asyncio.get_running_loop())
        try:
            await application.start()
            if application.historian is not None:
                from console.bootstrap_security import first_run_admin

                if await first_run_admin(application.settings) is not None:  # ENERGYNET_ADMIN_PASSWORD on a new DB
                    log.info("serve: the admin account was created from ENERGYNET_ADMIN_PASSWORD")
            settle_heap()  # started: freeze the start-up heap and the replayed book (console.heap)
            await stop.wait(args.quit_after)
            stats = application.acquisition.stats()
            states = ", ".join(f"{s.source}={s.state.value}" for s in application.acquisition.statuses())
            log.info("serve summary: samples=%d sources: %s", stats.samples, states or "none")
            if application.historian is not None:
                log.info("historian at the stop request: %s", application.historian.counts())
        finally:
            await shutdown(application)
        if application.historian is not None:
            log.info("historian: %s", application.historian.stats())
            log.info("historian: %s", application.historian.counts())

    asyncio.run(serve())
    stop.catch_signals_early()
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """The simulators, a local chain and the console, started together; one ordered stop for all."""
    pause_collector()  # until the window is shown (console.heap)
    from console.bootstrap_demo import demo_settings, start_demo
    from console.shutdown import StopRequest

    stop = StopRequest()
    stop.catch_signals_early()
    demo, settings = start_demo(demo_settings(), args.port, args.modbus_port, args.chain_port)
    try:
        return _launch(settings, args, stop, demo)
    finally:
        demo.stop()  # done already by the shutdown; here for a console that failed before it


def _cmd_chain_up(args: argparse.Namespace) -> int:
    from console.bootstrap_chain import DEMO_PASSWORD, chain_up
    from console.bootstrap_demo import port_free
    from console.shutdown import StopRequest

    if not port_free(args.port):
        print(f"energynet chain up: port {args.port} is in use; pick another with --port", file=sys.stderr)
        return 1
    stop = StopRequest()
    stop.catch_signals_early()  # SIGINT and SIGTERM alike: stop anvil, exit 0
    password = _env_password("ENERGYNET_KEYSTORE_PASSWORD", DEMO_PASSWORD)
    up = chain_up(args.port, args.dir, password, args.state, houses=args.participants is None)
    try:
        print(json.dumps({"rpc": up.anvil.url, "chainId": up.deployment.chain_id, "deployment": str(up.deployment_path),
                          "keystore": str(up.keystore), "maker_keystore": str(up.maker_keystore),
                          "contracts": up.deployment.addresses}, indent=2), flush=True)
        if args.participants is not None:
            from console.bootstrap_chain import register_participants

            try:
                done = register_participants(up.anvil.url, up.deployment, args.participants, args.dir,
                                             stopped=lambda: stop.reason is not None)
                print(f"world participants registered on chain: {done}", file=sys.stderr, flush=True)
                if args.report_meters > 0:
                    from console.bootstrap_chain import start_meter_reporter

                    start_meter_reporter(up, args.participants, args.report_meters, lambda: stop.reason is not None)
                    print(f"meter reporter: the world's meters report every {args.report_meters:g} s",
                          file=sys.stderr, flush=True)
                if args.dr_agents:
                    from console.bootstrap_chain import start_dr_fleet

                    start_dr_fleet(up, args.participants, lambda: stop.reason is not None)
                    print("demand response: the world's households answer events", file=sys.stderr, flush=True)
            except (TimeoutError, ValueError, RuntimeError, OSError) as exc:  # the chain stays up without them
                # (OSError: the node went away mid-way, as when the demo stops during the registration)
                print(f"energynet chain up: participants not registered: {exc}", file=sys.stderr, flush=True)
        print("chain running; Ctrl+C stops it", file=sys.stderr, flush=True)
        assert up.anvil.proc is not None
        while stop.reason is None and up.anvil.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                up.anvil.proc.wait(0.2)
        return 0
    finally:
        up.anvil.stop()


def _env_password(var: str, default: str | None) -> str:
    import os

    value = os.environ.get(var, default)
    if value is None:
        print(f"energynet: set {var} to the keystore password", file=sys.stderr)
        raise SystemExit(2)  # a configuration error (README, exit codes)
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
    from console import config as config_mod
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


def _cmd_sim_grid(args: argparse.Namespace) -> int:
    from console.bootstrap_sim import run_grid_simulator

    print(f"grid simulator: opc.tcp://{args.host}:{args.port}/energynet/grid (Ctrl+C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_grid_simulator(args.host, args.port, trips=not args.no_trips))
    return 0


def _cmd_sim_meters(args: argparse.Namespace) -> int:
    from console.bootstrap_sim import run_device_fleet

    what = f"{args.houses} houses" if args.houses else f"{args.count} Modbus TCP devices"
    print(f"device fleet: {what} on {args.host}:{args.port} (Ctrl+C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_device_fleet(args.host, args.port, args.count, args.houses))
    return 0


def _cmd_sim_world(args: argparse.Namespace) -> int:
    pause_collector()  # until the world is built (drivers/sim/world/serve.py)
    from console.bootstrap_sim import run_world

    print(f"world: opc.tcp://{args.host}:{args.opcua_port}/energynet/world, Modbus {args.host}:{args.modbus_port}"
          " (Ctrl+C stops)", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_world(args.host, args.opcua_port, args.modbus_port, args.households, args.speed,
                                  args.scenario, args.seed, args.participants_out, args.start, args.keys_dir))
    except ValueError as exc:  # a scenario file's problems (ScenarioError), too many households
        print(f"energynet sim world: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_probe_modbus(args: argparse.Namespace) -> int:
    """0: every point has a value (or the device says it has none); 1: a device or a point failed."""
    from console import config as config_mod
    from console.bootstrap import probe_modbus

    settings = config_mod.load(args.config)
    if not settings.modbus:
        print(f"energynet probe: {args.config} has no [[modbus]] devices", file=sys.stderr)
        return 2
    report = asyncio.run(probe_modbus(settings, args.seconds))
    return _print_probe(report, args.json, ("device", "point", "value", "unit", "quality"),
                        lambda r: f"{r.device:12} {r.point:36} {_shown(r.value):>14} {r.unit:6} {r.quality.value}")


def _cmd_probe_sunspec(args: argparse.Namespace) -> int:
    """0: the models are listed; 1: the device cannot be reached or has no SunSpec map."""
    from console.bootstrap import probe_sunspec
    from console.services.probe import ProbeFailed

    host, _, port = args.address.partition(":")
    try:
        models = asyncio.run(probe_sunspec(host, int(port or 502), args.device_id))
    except ProbeFailed as exc:
        print(f"energynet probe: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(models, indent=2))
    else:
        for m in models:
            print(f"model {m['model']:>4} at {m['address']:>5}, {m['length']:>3} registers  {m['name']}")
    return 0


def _cmd_probe_opcua(args: argparse.Namespace) -> int:
    """0: every point has a value; 1: a source or a point failed."""
    from console import config as config_mod
    from console.bootstrap import probe_opcua

    settings = config_mod.load(args.config)
    report = asyncio.run(probe_opcua(settings, args.seconds))
    return _print_probe(report, args.json, ("point", "value", "unit", "quality", "source_ts"),
                        lambda r: f"{r.point:28} {_shown(r.value):>14} {r.unit:6} {r.quality.value}")


def _print_probe(report: ProbeReport, as_json: bool, keys: Sequence[str], line: Callable[[ProbeResult], str]) -> int:
    """A probe's report: each problem on stderr, then each point as a JSON object with ``keys`` or as its
    table ``line``. 0 when the report is complete, 1 when a source or a point failed."""
    for problem in report.problems:
        print(f"energynet probe: {problem}", file=sys.stderr)
    if as_json:
        print(json.dumps([_row(r, keys) for r in report.results], indent=2, ensure_ascii=False))
    else:
        for r in report.results:
            print(line(r))
    return 0 if report.complete else 1


def _row(result: ProbeResult, keys: Sequence[str]) -> dict[str, object]:
    """One probed point as a JSON object with these keys (the quality as its name)."""
    row = asdict(result)
    row["quality"] = result.quality.value
    return {k: row[k] for k in keys}


def _shown(value: float | str | None) -> str:
    """A probed value for the table: 6 significant digits, text as it is, — for none."""
    return "—" if value is None else f"{value:.6g}" if isinstance(value, float) else value


def _db_url(args: argparse.Namespace) -> str:
    from console import config as config_mod
    from console.bootstrap import historian_url

    if args.url:
        return str(args.url)
    settings = config_mod.load(args.config or config_mod.default_config_path())
    return historian_url(settings)


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from console.bootstrap import history_export

    with history_export(_db_url(args)) as db:
        shown, revision = db.upgrade()
    print(f"{shown}: at revision {revision}")
    return 0


def _cmd_db_status(args: argparse.Namespace) -> int:
    from console.bootstrap import history_export

    with history_export(_db_url(args)) as db:
        status = db.status()
    print(json.dumps(asdict(status), indent=2))
    return 0


def _parse_time(text: str, option: str) -> float:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        print(f"energynet db export: {option} {text!r} is not an ISO time (2026-11-25T08:00:00Z)", file=sys.stderr)
        raise SystemExit(2) from None  # a usage error (README, exit codes)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _cmd_db_export(args: argparse.Namespace) -> int:
    from console.bootstrap import history_export

    start, end = _parse_time(args.start, "--from"), _parse_time(args.end, "--to")
    if end <= start:
        print("energynet db export: --to must be after --from", file=sys.stderr)
        return 2
    out = args.out.open("w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        with history_export(_db_url(args)) as db:
            rows = db.export_csv(args.point, start, end, out)
    finally:
        if args.out:
            out.close()
    print(f"energynet db export: {rows} samples of {args.point}", file=sys.stderr)
    return 0


def _cmd_alarms_export(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from console import config as config_mod
    from console.bootstrap import open_alarm_journal
    from console.services.alarm_export import export
    from core.alarms import JournalQuery

    times = []
    for text, option in ((args.start, "--from"), (args.end, "--to")):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            print(f"energynet alarms export: {option} {text!r} is not an ISO time (2026-11-25T08:00:00Z)",
                  file=sys.stderr)
            return 2
        times.append((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    start, end = times
    if end <= start:
        print("energynet alarms export: --to must be after --from", file=sys.stderr)
        return 2
    settings = config_mod.load(args.config or config_mod.default_config_path())
    try:
        journal = open_alarm_journal(settings)
        events = journal.query(JournalQuery(start, end, limit=100_000_000))
    except Exception as exc:  # the database: unreachable, refused, not migratable
        print(f"energynet alarms export: cannot read the alarm journal: {exc}", file=sys.stderr)
        return 1
    try:
        n = export(events, args.out, args.format)
    except OSError as exc:
        print(f"energynet alarms export: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"energynet alarms export: {n} events to {args.out}", file=sys.stderr)
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    from console import config as config_mod
    from console.bootstrap_check import check_config

    try:
        settings = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        problems = str(exc).splitlines()
        for line in problems:
            print(line, file=sys.stderr)
        print(f"energynet check-config: {args.config}: {len(problems)} problem{'s' if len(problems) > 1 else ''}"
              " (the profiles' contents and the chain files are checked once the config itself loads)", file=sys.stderr)
        return 2
    result = check_config(settings)
    for line in result.problems:
        print(line, file=sys.stderr)
    print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 2


def _cmd_report(args: argparse.Namespace) -> int:
    import os

    from console import config as config_mod
    from console.bootstrap import build_reports
    from console.services.reports import NoData, ReportFormat, ReportKind
    from core.reports.economics import EmissionFactor, Tariff

    def usage(message: str) -> int:
        print(f"energynet report: {message}", file=sys.stderr)
        return 2

    start, end = _parse_time(args.start, "--from"), _parse_time(args.end, "--to")
    if end <= start:
        return usage(f"--to ({args.end}) must be after --from ({args.start})")
    fmt_text = args.format or args.out.suffix.lstrip(".").lower()
    if fmt_text not in {f.value for f in ReportFormat}:
        return usage(f"give --format pdf, xlsx or csv (the suffix of {args.out} does not say which)")
    folder = args.out.parent if str(args.out.parent) else Path(".")
    if args.out.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        why = "it is a folder" if args.out.is_dir() else f"its folder {folder} does not exist or is not writable"
        return usage(f"cannot write --out {args.out}: {why}")
    try:
        tariff = Tariff(args.import_tariff, args.export_tariff, args.currency)
        emission = EmissionFactor(args.emission_factor)
    except ValueError as exc:
        return usage(str(exc))
    settings = config_mod.load(args.config or config_mod.default_config_path())
    service = build_reports(settings, args.url, tariff=tariff, emission=emission, name=args.site)

    def show(share: float, what: str) -> None:
        log.debug("report %3.0f %% %s", 100 * share, what)

    try:
        asyncio.run(service.run(ReportKind.parse(args.kind), start, end, ReportFormat(fmt_text), args.out, show))
    except NoData:
        print(f"energynet report: no data in period {args.start} – {args.end}", file=sys.stderr)
        return 1
    finally:
        service.close()
    print(f"energynet report: wrote {args.out}", file=sys.stderr)
    return 0


# ---- users and the audit chain (issue 18) ------------------------------------------------------------


def _add_security_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def database(sp: argparse.ArgumentParser) -> None:
        group = sp.add_mutually_exclusive_group()
        group.add_argument("--url", help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
        group.add_argument("--config", type=Path, help="take [historian] url from this config")

    audit = sub.add_parser("audit", help="the tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain; exit 1 naming the first broken link")
    database(verify)
    verify.set_defaults(func=_cmd_audit_verify)

    users = sub.add_parser("users", help="console users and roles")
    users_sub = users.add_subparsers(dest="users", required=True)
    admin = users_sub.add_parser("create-admin", help="the first run's admin account (asks for the password, "
                                 "or takes it from ENERGYNET_ADMIN_PASSWORD)")
    database(admin)
    admin.add_argument("--name", default="admin")
    admin.set_defaults(func=_cmd_users_create_admin)
    cli_users.add_parsers(sub, users, database)  # users create/unlock, certs (issue 18)


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from console.bootstrap_security import verify_audit

    report = verify_audit(_db_url(args))
    print(report.message())
    return 0 if report.ok else 1


def _cmd_users_create_admin(args: argparse.Namespace) -> int:
    import getpass
    import os

    from console.bootstrap_security import user_service
    from console.services.users import ADMIN_PASSWORD_ENV, UserError

    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if not password:
        if not sys.stdin.isatty():
            print(f"energynet: no terminal to ask for the password; set {ADMIN_PASSWORD_ENV}", file=sys.stderr)
            return 2
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("energynet: the passwords differ; nothing created", file=sys.stderr)
            return 2

    async def create() -> str:
        with user_service(_db_url(args)) as users:
            made = await users.create_admin(args.name, password)
        return made.name

    try:
        name = asyncio.run(create())
    except UserError as exc:
        print(f"energynet: {exc}", file=sys.stderr)
        return 2
    print(f"admin account {name} created")
    return 0
