// Turning file bytes into text for the editor, or a reason to skip the file: binary, not UTF-8, or too large.

/** A file's path (repository-relative, '/'-separated) and its text. */
export interface FileText {
  path: string;
  text: string;
}

/** A file the editor did not read or could not use, and why. */
export interface Skipped {
  path: string;
  reason: string;
  /** YAML path inside the file, when the reason concerns one value rather than the whole file. */
  location?: string;
  /** The repository an invalid value seems to name (reported only when that image is requested). */
  repository?: string;
  /** True when the user should see it as a warning (a file that does not parse, an invalid current value). */
  warning?: boolean;
  /** The newer version a value keeps because the request asked never to downgrade (only-newer). */
  kept?: string;
}

/** Files larger than this are skipped: manifests are kilobytes; a multi-megabyte "YAML" is generated or hostile. */
export const DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024;

/** Decodes UTF-8 bytes (keeping a BOM, so it is written back), or says why the file is skipped. */
export function decodeFileText(
  path: string,
  bytes: Uint8Array,
  maxBytes: number = DEFAULT_MAX_FILE_BYTES,
): FileText | Skipped {
  if (bytes.length > maxBytes) return { path, reason: `larger than ${maxBytes} bytes (${bytes.length})` };
  if (bytes.subarray(0, 8192).includes(0)) return { path, reason: 'binary (contains NUL bytes)' };
  try {
    return { path, text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    return { path, reason: 'binary (not valid UTF-8)' };
  }
}

/** Encodes text for writing back; the BOM, if any, is part of the text. */
export function encodeFileText(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
