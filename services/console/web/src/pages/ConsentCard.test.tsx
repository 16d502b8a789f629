import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderIn } from "../test/render";
import { ConsentCard } from "./ConsentCard";

const AT = "2026-11-20T02:00:00Z";
const scope = (name: "telemarketing" | "sms" | "email", granted: boolean, statement = "我同意接收课程电话推荐") => ({
  scope: name,
  granted,
  given_at: AT,
  statement,
  evidence: granted ? "rec-9" : null,
  source: "/crm/x",
  event_id: "e-1",
});

describe("consent on the lead page", () => {
  it("shows each scope the person agreed to, with the statement and its evidence", () => {
    renderIn("zh-CN", <ConsentCard lead={{ consent: [scope("telemarketing", true), scope("sms", true)] }} />);
    const card = screen.getByTestId("lead-consent");
    expect(screen.getByRole("region", { name: "联系同意" })).toBe(card);
    expect(card).toHaveTextContent("电话营销");
    expect(card).toHaveTextContent("短信");
    expect(card).toHaveTextContent("“我同意接收课程电话推荐”");
    expect(card).toHaveTextContent("凭证：rec-9");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("warns first when telemarketing was withdrawn", () => {
    renderIn("en", <ConsentCard lead={{ consent: [scope("telemarketing", false, "stop calling me")] }} />);
    expect(screen.getByRole("alert")).toHaveTextContent("refused or withdrew telemarketing: do not call");
    expect(screen.getByTestId("lead-consent")).toHaveTextContent(/Telemarketing calls.*Refused or withdrawn on/);
  });

  it("shows a scope the source gave as a flag, without a statement", () => {
    renderIn("en", <ConsentCard lead={{ consent: [{ ...scope("sms", false), statement: null }] }} />);
    expect(screen.getByTestId("lead-consent")).toHaveTextContent(/^SMSRefused or withdrawn on [^“]*$/);
  });

  it("says when the source stated none", () => {
    renderIn("en", <ConsentCard lead={{ consent: [] }} />);
    expect(screen.getByTestId("lead-consent")).toHaveTextContent("The source stated no consent to be contacted.");
  });
});
