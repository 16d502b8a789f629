import { LogoutOutlined, UserOutlined } from "@ant-design/icons";
import { useEffect, useRef } from "react";
import { useI18n } from "../i18n";
import { usePopup } from "./usePopup";

/** The user's button and its menu (one item: sign out). */
export function UserMenu({ name, onSignOut }: { name: string; onSignOut: () => void }) {
  const { t } = useI18n();
  const { open, setOpen, close, box, button } = usePopup();
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (open) first.current?.focus();
  }, [open]);
  return (
    <div className="header-popup" ref={box}>
      <button
        ref={button}
        type="button"
        className="header-button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={`${t("header.user")}: ${name}`}
        onClick={() => setOpen(!open)}
      >
        <UserOutlined aria-hidden /> {name}
      </button>
      {open ? (
        <ul role="menu" className="header-panel header-menu" aria-label={t("header.user")}>
          <li role="none">
            <button
              ref={first}
              type="button"
              role="menuitem"
              onClick={() => {
                close(false);
                onSignOut();
              }}
            >
              <LogoutOutlined aria-hidden /> {t("header.logout")}
            </button>
          </li>
        </ul>
      ) : null}
    </div>
  );
}
