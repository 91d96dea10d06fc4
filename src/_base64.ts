// Base64 decoding without a dependency (JSR's std is not reachable from every machine that
// builds this).

/**
 * The bytes of standard base64 text (with padding), as scripts/build.ts writes the compiled
 * cores into build/wasm.ts.
 */
export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
