function isUnattended(e,t=!1){return t||/^(1|true|yes)$/i.test(e.SITECYCLE_UNATTENDED??"")||"schedule"===e.GITHUB_EVENT_NAME}export{isUnattended as i};
