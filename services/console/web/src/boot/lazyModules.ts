import { lazy, useEffect, useState, type ComponentType } from "react";
import type { ModuleLoader } from "./once";

type PageModule = { default: ComponentType };

/** React.lazy of a page module. React.lazy suspends on its first render even when the import has already
 * settled (it reads the module in a `then`), and React 18 then holds the page back for up to 500 ms (its
 * throttle of Suspense reveals). A loaded module is handed over by a thenable that answers at once, so
 * the page is in the very first render. */
export function lazyPage(loader: ModuleLoader<PageModule>) {
  return lazy(() => {
    const module = loader.loaded();
    if (!module) return loader();
    const settled: PromiseLike<PageModule> = {
      then: (onLoaded) => (onLoaded ? onLoaded(module) : module) as never,
    };
    return settled as Promise<PageModule>;
  });
}

/** A module a component needs only after its first paint (effects run after it): undefined until it is
 * loaded, and `failed` if its import failed (a browser keeps a failed import: only a reload tries again).
 * Not Suspense: its reveals wait out the same throttle. */
export function useModuleAfterPaint<T>(loader: ModuleLoader<T>): { module?: T; failed: boolean } {
  const [module, setModule] = useState<T | undefined>(loader.loaded);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (module) return;
    let live = true;
    loader().then(
      (loaded) => live && setModule(() => loaded),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [loader, module]);
  return { module, failed };
}
