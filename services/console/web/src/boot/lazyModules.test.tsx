import { act, render, screen, waitFor } from "@testing-library/react";
import { Suspense, useEffect } from "react";
import { describe, expect, it, vi } from "vitest";
import { PageErrorBoundary } from "../components/PageErrorBoundary";
import { I18nProvider } from "../i18n";
import { renderIn } from "../test/render";
import { lazyPage, useModuleAfterPaint } from "./lazyModules";
import { once } from "./once";

const Page = () => <p>the page</p>;

describe("pages and modules loaded once", () => {
  it("renders a page already loaded in the first render, without its fallback", async () => {
    const loader = once(async () => ({ default: Page }));
    await loader();
    render(
      <Suspense fallback={<p>waiting</p>}>
        {(() => {
          const Lazy = lazyPage(loader);
          return <Lazy />;
        })()}
      </Suspense>,
    );
    // No await: the page is there synchronously, and the fallback was never shown.
    expect(screen.getByText("the page")).toBeInTheDocument();
    expect(screen.queryByText("waiting")).not.toBeInTheDocument();
  });

  it("waits for a page not loaded yet behind its fallback", async () => {
    let finish: (module: { default: typeof Page }) => void = () => undefined;
    const Lazy = lazyPage(once(() => new Promise((resolve) => (finish = resolve))));
    render(
      <Suspense fallback={<p>waiting</p>}>
        <Lazy />
      </Suspense>,
    );
    expect(screen.getByText("waiting")).toBeInTheDocument();
    await act(async () => finish({ default: Page }));
    expect(await screen.findByText("the page")).toBeInTheDocument();
  });

  it("imports again after a failed import", async () => {
    const load = vi.fn().mockRejectedValueOnce(new Error("offline")).mockResolvedValueOnce({ default: Page });
    const loader = once(load);
    await expect(loader()).rejects.toThrow("offline");
    await expect(loader()).resolves.toEqual({ default: Page });
    expect(loader.loaded()).toEqual({ default: Page });
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("loads a module after the first paint, and says when it failed", async () => {
    function Probe({ load }: { load: () => Promise<string> }) {
      const { module, failed } = useModuleAfterPaint(once(load));
      return <p>{failed ? "failed" : (module ?? "not yet")}</p>;
    }
    render(<Probe load={async () => "loaded"} />);
    expect(screen.getByText("not yet")).toBeInTheDocument();
    expect(await screen.findByText("loaded")).toBeInTheDocument();
    render(<Probe load={() => Promise.reject(new Error("offline"))} />);
    expect(await screen.findByText("failed")).toBeInTheDocument();
  });

  it("shows a page that failed as an alert with a reload, not a blank app", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const Broken = lazyPage(once(() => Promise.reject(new Error("Failed to fetch dynamically imported module"))));
    renderIn(
      "en",
      <PageErrorBoundary>
        <Suspense fallback={<p>waiting</p>}>
          <Broken />
        </Suspense>
      </PageErrorBoundary>,
    );
    await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent("This page could not load"));
    expect(screen.getByRole("button", { name: "Reload" })).toBeInTheDocument();
    spy.mockRestore();
  });

  it("tries again on another page, and never remounts a page that works", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    let mounts = 0;
    function Counted() {
      useEffect(() => {
        mounts += 1;
      }, []);
      return <p>the page</p>;
    }
    const Broken = () => {
      throw new Error("broken");
    };
    // The same tree each time, as the layout keeps it: only the page and its path change.
    const app = (page: string, content: React.ReactNode) => (
      <I18nProvider initial="en">
        <PageErrorBoundary page={page}>{content}</PageErrorBoundary>
      </I18nProvider>
    );
    const view = render(app("/a", <Broken />));
    expect(screen.getByRole("alert")).toHaveTextContent("This page could not load");
    view.rerender(app("/a", <Counted />));
    expect(screen.getByRole("alert")).toBeInTheDocument(); // the same page: still failed, until a reload
    view.rerender(app("/b", <Counted />));
    expect(await screen.findByText("the page")).toBeInTheDocument();
    view.rerender(app("/c", <Counted />));
    expect(screen.getByText("the page")).toBeInTheDocument();
    expect(mounts).toBe(1);
    spy.mockRestore();
  });
});

