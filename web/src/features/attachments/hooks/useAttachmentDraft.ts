import { useCallback, useEffect, useRef, useState } from "react";
import { useClientConfig } from "../../../lib/config";
import type { Upload } from "../../../types/events";
import { ABORTED, precheckFile, type UploadOptions, type UploadResult } from "../api/upload";

/** Uploads one file (uploadAttachment with the session's token bound). */
export type Uploader = (file: File, options: UploadOptions) => Promise<UploadResult>;

/** The image the composer holds: none, on its way up, ready to send, or refused. */
export type AttachmentDraft =
  | { status: "empty" }
  | { status: "uploading"; name: string; /** 0 to 100 */ percent: number }
  | { status: "ready"; name: string; upload: Upload }
  | { status: "failed"; message: string };

/** What a sent message carries: the upload and its description. */
export interface ReadyAttachment {
  upload: Upload;
  alt: string;
}

export interface AttachmentDraftControls {
  draft: AttachmentDraft;
  /** The "Image description" field (sent as alt). */
  alt: string;
  setAlt(alt: string): void;
  /** Uploads file at once, replacing whatever was attached. */
  add(file: File): void;
  /** Cancels the upload, or forgets the image or the error. */
  remove(): void;
  /** The ready image and its description, if any; the draft is then empty. */
  take(): ReadyAttachment | null;
}

const EMPTY: AttachmentDraft = { status: "empty" };

/** A description is one line: line breaks become spaces. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, " ");

/**
 * One attachment for the next message: chosen, pasted or dropped, it is
 * uploaded at once (with progress); a newer file or remove() cancels an
 * upload under way, and an unmount cancels it too.
 */
export function useAttachmentDraft(upload: Uploader): AttachmentDraftControls {
  const [draft, setDraft] = useState<AttachmentDraft>(EMPTY);
  const [alt, setAltState] = useState("");
  const draftRef = useRef(draft);
  const altRef = useRef(alt);
  const current = useRef<AbortController | null>(null);
  const limits = useClientConfig();

  const update = useCallback((next: AttachmentDraft) => {
    draftRef.current = next;
    setDraft(next);
  }, []);

  const cancel = useCallback(() => {
    current.current?.abort();
    current.current = null;
  }, []);

  useEffect(() => cancel, [cancel]);

  const setAlt = useCallback((value: string) => {
    altRef.current = oneLine(value);
    setAltState(altRef.current);
  }, []);

  const add = useCallback(
    (file: File) => {
      cancel();
      setAlt("");
      const refused = precheckFile(file, limits);
      if (refused) {
        update({ status: "failed", message: refused.message });
        return;
      }
      const controller = new AbortController();
      current.current = controller;
      const name = file.name || "image";
      update({ status: "uploading", name, percent: 0 });
      void upload(file, {
        signal: controller.signal,
        onProgress: (fraction) => {
          if (current.current !== controller) return;
          const percent = Math.round(fraction * 100);
          const now = draftRef.current;
          if (now.status === "uploading" && now.percent !== percent) update({ ...now, percent });
        },
      }).then((result) => {
        if (current.current !== controller) return; // replaced or removed meanwhile
        current.current = null;
        if (result.ok) {
          update({ status: "ready", name, upload: result.upload });
        } else if (result.error !== ABORTED) {
          update({ status: "failed", message: result.message });
        } else {
          update(EMPTY);
        }
      });
    },
    [cancel, update, upload, setAlt, limits],
  );

  const remove = useCallback(() => {
    cancel();
    update(EMPTY);
    setAlt("");
  }, [cancel, update, setAlt]);

  const take = useCallback((): ReadyAttachment | null => {
    const now = draftRef.current;
    if (now.status !== "ready") return null;
    const taken = { upload: now.upload, alt: altRef.current.trim() };
    update(EMPTY);
    setAlt("");
    return taken;
  }, [update, setAlt]);

  return { draft, alt, setAlt, add, remove, take };
}
