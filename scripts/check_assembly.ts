// Layout check for assembly/, run by `deno task check` and .ci/run. deno fmt cannot format
// AssemblyScript: it silently drops the decorators of functions (`@inline`, even under
// `// deno-fmt-ignore`), so deno.json keeps assembly/ out of deno fmt and this script holds it
// to the same line width (fmt.lineWidth), with no tabs, no trailing whitespace and one final
// newline.
//
//   deno run --allow-read scripts/check_assembly.ts

const root = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const width: number = config.fmt?.lineWidth ?? 80;
const dir = new URL("assembly/", root);

/** The layout problems of one file's text, as "line: message". */
function layoutProblems(text: string, maxWidth: number): string[] {
  const problems: string[] = [];
  const lines = text.split("\n");
  if (text.length > 0 && !text.endsWith("\n")) problems.push(`${lines.length}: no final newline`);
  if (text.endsWith("\n\n")) problems.push(`${lines.length - 1}: blank lines at the end`);
  lines.forEach((line, i) => {
    const n = i + 1;
    const chars = [...line].length;
    if (chars > maxWidth) problems.push(`${n}: ${chars} characters, more than ${maxWidth}`);
    if (line.includes("\t")) problems.push(`${n}: tab`);
    if (/\s$/.test(line)) problems.push(`${n}: trailing whitespace`);
  });
  return problems;
}

const files: string[] = [];
for await (const entry of Deno.readDir(dir)) {
  if (entry.isFile && entry.name.endsWith(".ts")) files.push(entry.name);
}
files.sort();
let count = 0;
for (const file of files) {
  const text = await Deno.readTextFile(new URL(file, dir));
  for (const problem of layoutProblems(text, width)) {
    console.error(`assembly/${file}:${problem}`);
    count++;
  }
}
if (count > 0) {
  console.error(`${count} layout problem(s) in assembly/: wrap lines at ${width} characters`);
  Deno.exit(1);
}
console.log(`assembly/: ${files.length} files, every line within ${width} characters`);
