"""The floor console: backend-for-frontend of the web app in services/console/web/."""
