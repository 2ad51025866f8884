// Files out of a paste or a drop: the first image, else the first file
// (so that a file of another kind gets its error in words).

/** The DataTransfer members read here; pastes and drops both have them. */
export interface FileSource {
  readonly files?: ArrayLike<File> | null;
  readonly items?: ArrayLike<{ kind: string; type: string; getAsFile(): File | null }> | null;
  readonly types?: ArrayLike<string> | readonly string[] | null;
}

/** Whether a drag carries files (their contents are readable only on drop). */
export function carriesFiles(data: FileSource | null | undefined): boolean {
  return Array.from(data?.types ?? []).includes("Files");
}

export function pickFile(data: FileSource | null | undefined): File | null {
  if (!data) return null;
  const files = Array.from(data.files ?? []);
  if (files.length === 0) {
    for (const item of Array.from(data.items ?? [])) {
      if (item.kind !== "file") continue;
      const file = item.getAsFile();
      if (file) files.push(file);
    }
  }
  return files.find((f) => f.type.startsWith("image/")) ?? files[0] ?? null;
}
