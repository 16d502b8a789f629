import {
  AimOutlined,
  AuditOutlined,
  BarChartOutlined,
  BulbOutlined,
  ProfileOutlined,
  TeamOutlined,
  WalletOutlined,
} from "@ant-design/icons";
import type { KeyboardEvent } from "react";
import { NavLink } from "react-router-dom";
import { useSession } from "../api/session";
import { isSupervisor, readsAccessLog } from "../api/roles";
import { useI18n } from "../i18n";

/** The main menu: a menu of links (role menuitem, the current section with aria-current="page"), arrow
 * keys, Home and End moving between them. Plain links: antd's Menu (rc-menu, rc-trigger, rc-motion) is
 * not loaded for it. */
export function SideNav({ onNavigate }: { onNavigate?: () => void }) {
  const { t } = useI18n();
  const items = [
    { to: "/leads", icon: <ProfileOutlined aria-hidden />, label: t("nav.leads") },
    { to: "/claim", icon: <AimOutlined aria-hidden />, label: t("nav.claim") },
    { to: "/tips", icon: <BulbOutlined aria-hidden />, label: t("nav.tips") },
    { to: "/wallet", icon: <WalletOutlined aria-hidden />, label: t("nav.wallet") },
    { to: "/day", icon: <BarChartOutlined aria-hidden />, label: t("nav.day") },
  ];
  const roles = useSession().data?.user.roles ?? [];
  if (isSupervisor(roles))
    items.push({ to: "/team", icon: <TeamOutlined aria-hidden />, label: t("nav.team") });
  if (readsAccessLog(roles))
    items.push({ to: "/access-log", icon: <AuditOutlined aria-hidden />, label: t("nav.accessLog") });
  const onKeyDown = (event: KeyboardEvent<HTMLUListElement>) => {
    const links = Array.from(event.currentTarget.querySelectorAll<HTMLAnchorElement>("a[role=menuitem]"));
    const at = links.indexOf(document.activeElement as HTMLAnchorElement);
    const next = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: links.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    links[(next + links.length) % links.length]?.focus();
  };
  return (
    <nav aria-label={t("nav.menu")}>
      <ul role="menu" aria-orientation="vertical" className="side-menu" onKeyDown={onKeyDown}>
        {items.map((item) => (
          <li role="none" key={item.to}>
            <NavLink role="menuitem" to={item.to} className="side-menu-item" onClick={onNavigate}>
              {item.icon}
              <span>{item.label}</span>
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
