import { Alert } from "antd";
import { ApiError } from "../api/problem";
import { useI18n, type Translate } from "../i18n";

/** The words to show for a failure: the server's detail, never a code or a stack trace. */
export function errorWords(t: Translate, error: unknown): string {
  if (error instanceof ApiError) {
    return error.problem.detail ?? error.problem.title ?? t("error.generic", { status: error.status });
  }
  if (error instanceof TypeError) return t("error.network");
  return t("error.generic", { status: "?" });
}

export function ProblemAlert({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  if (!error) return null;
  return (
    <Alert
      type="error"
      role="alert"
      showIcon
      message={t("error.title")}
      description={errorWords(t, error)}
      action={
        onRetry ? (
          <button type="button" className="link-button" onClick={onRetry}>
            {t("common.retry")}
          </button>
        ) : undefined
      }
    />
  );
}
