import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiError, toProblem } from "../api/problem";
import { renderIn } from "../test/render";
import { ProblemAlert } from "./ProblemAlert";

describe("problem detail display", () => {
  it("shows the refusal's detail, not its code or title", () => {
    const error = new ApiError(
      409,
      toProblem(409, { title: "Conflict", code: "holding_cap", detail: "你已持有 50 条线索，达到上限。" }),
    );
    renderIn("zh-CN", <ProblemAlert error={error} />);
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("你已持有 50 条线索，达到上限。");
    expect(alert).not.toHaveTextContent("holding_cap");
  });

  it("joins a validation error's messages", () => {
    const error = new ApiError(422, toProblem(422, { detail: [{ loc: ["body", "count"], msg: "must be at least 1" }] }));
    renderIn("en", <ProblemAlert error={error} />);
    expect(screen.getByRole("alert")).toHaveTextContent("count: must be at least 1");
  });

  it("says words of its own when the answer has none, and never a stack trace", () => {
    const error = new ApiError(502, toProblem(502, "<html>Bad gateway</html>"));
    renderIn("en", <ProblemAlert error={error} />);
    expect(screen.getByRole("alert")).toHaveTextContent("The request did not succeed (502). Please try again later.");
    renderIn("zh-CN", <ProblemAlert error={new TypeError("Failed to fetch\n    at foo.js:1")} />);
    expect(screen.getAllByRole("alert")[1]).toHaveTextContent("无法连接服务器");
    expect(screen.getAllByRole("alert")[1]).not.toHaveTextContent("foo.js");
  });
});
