/**
 * The UI's stylesheet and its one small script, served from the Worker itself (no CDN, no build
 * step). The Content-Security-Policy allows only these same-origin files: no inline code.
 */
export const APP_CSS = `
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dee7; --bg:#f6f7f9; --accent:#2f5bd3; --bad:#b42318; --ok:#067647; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:center; gap:18px; padding:10px 20px; background:#fff; border-bottom:1px solid var(--line); }
header .brand { font-weight:700; }
header nav a { color:var(--muted); text-decoration:none; margin-right:14px; }
header nav a.active, header nav a:hover { color:var(--accent); }
header form { margin-left:auto; }
main { max-width:1180px; margin:0 auto; padding:20px; }
h1 { font-size:20px; margin:0 0 14px; }
h2 { font-size:16px; margin:22px 0 10px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin-bottom:16px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(460px, 1fr)); gap:16px; margin-top:16px; }
.stats { display:flex; gap:16px; flex-wrap:wrap; }
.stat { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:140px; }
.stat b { display:block; font-size:20px; }
table { width:100%; border-collapse:collapse; background:#fff; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; overflow-wrap:anywhere; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; }
form.inline { display:inline; }
label { display:block; margin:8px 0 4px; font-weight:600; }
input[type=text], input[type=password], input[type=email], input[type=url], input[type=datetime-local], select, textarea { width:100%; max-width:520px; padding:6px 8px; border:1px solid var(--line); border-radius:6px; font:inherit; }
textarea { min-height:64px; }
button, .button { display:inline-block; padding:6px 12px; border-radius:6px; border:1px solid var(--accent); background:var(--accent); color:#fff; font:inherit; cursor:pointer; text-decoration:none; }
button.secondary, .button.secondary { background:#fff; color:var(--accent); }
button.danger { background:var(--bad); border-color:var(--bad); }
.error { color:var(--bad); background:#fef3f2; border:1px solid #fecdca; padding:8px 10px; border-radius:6px; margin:8px 0; }
.notice { background:#ecfdf3; border:1px solid #abefc6; padding:8px 10px; border-radius:6px; margin:8px 0; }
.warning { background:#fffaeb; border:1px solid #fedf89; padding:10px 12px; border-radius:6px; margin:8px 0; font-weight:600; }
.secret { display:flex; gap:8px; align-items:center; }
.secret code { font-size:15px; padding:8px 10px; background:#0f172a; color:#e2e8f0; border-radius:6px; user-select:all; overflow-wrap:anywhere; }
.muted { color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; border:1px solid var(--line); }
.badge.active, .badge.allowed, .badge.ok { color:var(--ok); border-color:#abefc6; }
.badge.revoked, .badge.expired, .badge.denied, .badge.failed, .badge.degraded { color:var(--bad); border-color:#fecdca; }
.filters { display:flex; gap:10px; flex-wrap:wrap; align-items:end; margin-bottom:12px; }
.filters label { margin:0 0 2px; font-size:12px; }
.filters select, .filters input { width:auto; }
svg.chart { width:100%; height:auto; background:#fff; }
.pager { margin-top:10px; }
`;

/** Copy-to-clipboard for the one-time key box. */
export const APP_JS = `
document.addEventListener('click', function (e) {
  var button = e.target.closest('[data-copy]');
  if (!button) return;
  var text = document.getElementById(button.getAttribute('data-copy')).textContent;
  navigator.clipboard.writeText(text).then(function () { button.textContent = 'Copied'; });
});
document.addEventListener('submit', function (e) {
  var form = e.target;
  if (form.hasAttribute('data-confirm') && !window.confirm(form.getAttribute('data-confirm'))) e.preventDefault();
});
`;
