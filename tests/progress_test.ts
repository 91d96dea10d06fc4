// train.ts's live bar with a sample printed above it: the bar line is cleared, the sample
// written on lines of its own, and the bar drawn again below it, whole.

import assert from "node:assert/strict";

Deno.test("a sample goes above the live bar, which is redrawn below it", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_progress_live.ts", import.meta.url).pathname],
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  const clear = "\r\x1b[2K";
  const bar = (n: number) =>
    `[${"#".repeat(n * 6)}${"-".repeat(24 - n * 6)}] epoch 1/1 step ${n}/4`;
  const at = text.indexOf(`${clear}sample at step 2:\nthe cat\nsat\n`);
  assert.ok(at > 0, JSON.stringify(text));
  // Before it, the bar at step 2; right after it, the same bar again; then step 3's.
  assert.ok(text.slice(0, at).endsWith(text.slice(text.lastIndexOf(clear, at - 1), at)));
  assert.ok(text.slice(text.lastIndexOf(clear, at - 1), at).includes(bar(2)));
  const after = text.slice(at + `${clear}sample at step 2:\nthe cat\nsat\n`.length);
  assert.ok(after.startsWith(bar(2)), JSON.stringify(after));
  assert.ok(after.includes(`${clear}${bar(3)}`), JSON.stringify(after));
  // No line holds a bar and the sample together.
  for (const line of text.split("\n")) {
    const shown = line.slice(line.lastIndexOf(clear) + (line.includes(clear) ? clear.length : 0));
    assert.ok(!(shown.includes("sample at") && shown.includes("[")), JSON.stringify(line));
  }
});
