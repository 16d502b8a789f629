import { useCallback, useEffect, useRef, useState } from "react";

/** A header popup's open state: it closes on Escape (focus back on its button) and on a click outside. */
export function usePopup<B extends HTMLElement = HTMLButtonElement>() {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const button = useRef<B>(null);
  const close = useCallback((refocus: boolean) => {
    setOpen(false);
    if (refocus) button.current?.focus();
  }, []);
  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && close(true);
    const onPointer = (event: MouseEvent) => {
      if (box.current && !box.current.contains(event.target as Node)) close(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("mousedown", onPointer);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("mousedown", onPointer);
    };
  }, [open, close]);
  return { open, setOpen, close, box, button };
}
