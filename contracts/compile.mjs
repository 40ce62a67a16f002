// Compiles contracts/src/**/*.sol with the pinned solc-js into contracts/artifacts/<Name>.json.
// `node contracts/compile.mjs --check` compiles in memory and exits 1 when the committed artifacts differ.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const srcDir = join(here, "src");
const outDir = join(here, "artifacts");
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"] } },
};

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".sol") ? [path] : [];
  });
}

function findImport(path) {
  for (const base of [join(root, "node_modules"), srcDir]) {
    const full = join(base, path);
    if (existsSync(full)) return { contents: readFileSync(full, "utf8") };
  }
  return { error: `import not found: ${path} (run npm ci)` };
}

const files = sources(srcDir).sort();
const input = {
  language: "Solidity",
  sources: Object.fromEntries(files.map((f) => [relative(srcDir, f), { content: readFileSync(f, "utf8") }])),
  settings: SETTINGS,
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const check = process.argv.includes("--check");
let stale = [];
mkdirSync(outDir, { recursive: true });
for (const [file, contracts] of Object.entries(output.contracts)) {
  // Artifacts for our own contracts and interfaces; abstract bases and ABI-less libraries are skipped.
  if (file.startsWith("@")) continue;
  const source = readFileSync(join(srcDir, file), "utf8");
  for (const [name, c] of Object.entries(contracts)) {
    if (c.abi.length === 0) continue;
    const artifact = {
      contractName: name,
      sourceName: `contracts/src/${file}`,
      sourceSha256: createHash("sha256").update(source).digest("hex"),
      compiler: { name: "solc-js", version: solc.version() },
      settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion },
      abi: c.abi,
      methodIdentifiers: c.evm.methodIdentifiers,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    const text = JSON.stringify(artifact, null, 2) + "\n";
    const path = join(outDir, `${name}.json`);
    if (check) {
      if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(relative(root, path));
    } else {
      writeFileSync(path, text);
    }
  }
}
if (check && stale.length) {
  console.error(`committed artifacts differ from a fresh compile: ${stale.join(", ")}\nrun \`make contracts\` and commit the result`);
  process.exit(1);
}
console.log(check ? "artifacts match the sources" : `compiled ${files.length} sources with solc ${solc.version()}`);
