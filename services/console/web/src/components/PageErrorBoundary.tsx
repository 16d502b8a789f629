import { Alert, Button } from "antd";
import { Component, type ReactNode } from "react";
import { useI18n } from "../i18n";

interface Props {
  children: ReactNode;
  /** The page shown (its path): once it changes, a failed page is tried again. */
  page?: string;
}

/** A page that throws while rendering (most often: its code could not load, e.g. a new release replaced
 * it) shows what happened and a reload, in place of the page: the menu and the header stay. Going to
 * another page tries again; a page that works is never remounted by this. */
export class PageErrorBoundary extends Component<Props, { failed: boolean }> {
  state = { failed: false };

  static getDerivedStateFromError() {
    return { failed: true };
  }

  componentDidUpdate(previous: Props) {
    if (this.state.failed && previous.page !== this.props.page) this.setState({ failed: false });
  }

  componentDidCatch(error: unknown) {
    console.error("the page failed", error);
  }

  render() {
    return this.state.failed ? <PageFailed /> : this.props.children;
  }
}

function PageFailed() {
  const { t } = useI18n();
  return (
    <Alert
      type="error"
      showIcon
      message={t("common.pageFailed")}
      action={
        <Button type="primary" onClick={() => window.location.reload()}>
          {t("common.reload")}
        </Button>
      }
    />
  );
}
