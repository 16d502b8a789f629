// No React here: main.tsx's small entry starts the first page's import with it.
/** A module's import, started once; the module it loaded is kept, so a later render needs no wait. */
export interface ModuleLoader<T> {
  (): Promise<T>;
  loaded(): T | undefined;
}

export function once<T>(load: () => Promise<T>): ModuleLoader<T> {
  let promise: Promise<T> | undefined;
  let module: T | undefined;
  const loader = () =>
    (promise ??= load().then(
      (loadedModule) => (module = loadedModule),
      (error: unknown) => {
        promise = undefined; // a failed import (a network blip, a redeploy) is tried again next time
        throw error;
      },
    ));
  return Object.assign(loader, { loaded: () => module });
}
