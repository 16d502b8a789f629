// Generates src/api/generated/<service>.ts from every committed OpenAPI document in openapi/, so a change
// of a service's API that breaks the app breaks `npm run build` (tsc runs over the generated types).
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "openapi");
const target = join(root, "src", "api", "generated");
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
const cli = join(root, "node_modules", "openapi-typescript", "bin", "cli.js");
for (const file of readdirSync(source).filter((name) => name.endsWith(".json")).sort()) {
  const out = join(target, file.replace(/\.json$/, ".ts"));
  execFileSync(process.execPath, [cli, join(source, file), "-o", out, "--alphabetize"], { stdio: "inherit" });
}
