import { Alert, Descriptions, Typography } from "antd";
import type { LeadView } from "../api/clients";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/messages";

type ScopeConsent = NonNullable<LeadView["consent"]>[number];
const SCOPES = ["telemarketing", "sms", "email"] as const;

/** What the person agreed to be contacted by (the latest statement per scope, as the lead's source gave it),
 * so the agent knows before calling; a withdrawn telemarketing consent is said first. */
export function ConsentCard({ lead }: { lead: Pick<LeadView, "consent"> }) {
  const { t, lang } = useI18n();
  const consent = lead.consent ?? [];
  const when = (value: string) => new Date(value).toLocaleString(lang);
  const scopeName = (scope: string) =>
    (SCOPES as readonly string[]).includes(scope) ? t(`leads.consent.scope.${scope}` as MessageKey) : scope;
  const withdrawn = consent.some((c: ScopeConsent) => c.scope === "telemarketing" && !c.granted);
  return (
    <section aria-label={t("leads.consent")} data-testid="lead-consent">
      {withdrawn ? <Alert type="error" showIcon role="alert" message={t("leads.consent.noCalls")} /> : null}
      {consent.length ? (
        <Descriptions column={1} size="small">
          {consent.map((c: ScopeConsent) => (
            <Descriptions.Item key={c.scope} label={scopeName(c.scope)}>
              <span>
                {t(c.granted ? "leads.consent.granted" : "leads.consent.withdrawn", { at: when(c.given_at) })}
                {c.statement ? ` · “${c.statement}”` : ""}
                {c.evidence ? ` · ${t("leads.consent.evidence", { ref: c.evidence })}` : ""}
              </span>
            </Descriptions.Item>
          ))}
        </Descriptions>
      ) : (
        <Typography.Text type="secondary">{t("leads.consent.none")}</Typography.Text>
      )}
    </section>
  );
}
