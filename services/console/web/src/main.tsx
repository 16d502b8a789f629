import { startSessionFetch } from "./boot/earlySession";
import { pageFor } from "./boot/routeModules";
import "./styles.css";

// This entry is small: the session request, the page the URL shows and the app (React, antd) are all
// fetched at once, not one after the other.
startSessionFetch();
void pageFor(window.location.pathname)().catch(() => undefined);
void import("./app").then(({ start }) => start());
