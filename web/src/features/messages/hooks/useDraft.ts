import { useCallback, useState } from "react";
import { loadDraft, storeDraft } from "../api/storage";

/**
 * The composer's text, kept in sessionStorage: a reload, or a session
 * that ended while the user was away, does not lose what they were writing.
 */
export function useDraft(onChange?: (draft: string) => void): [string, (draft: string) => void] {
  const [draft, setDraftState] = useState(loadDraft);
  const setDraft = useCallback(
    (value: string) => {
      setDraftState(value);
      storeDraft(value);
      onChange?.(value);
    },
    [onChange],
  );
  return [draft, setDraft];
}
