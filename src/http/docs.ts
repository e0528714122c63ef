import { createHash } from 'node:crypto';
import { PACKAGE_VERSION, buildManifest, type ManifestOperation } from '../manifest.js';
import { OPERATION_PATH_PREFIX } from './openapi.js';

/**
 * The interactive API docs at /docs: one self-contained HTML page generated
 * from the manifest. Every operation is rendered on the server (readable
 * without JavaScript); a small inline script adds "Try it" with fetch.
 * Nothing external loads, and the Content-Security-Policy says so.
 */

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface PropSchema {
  type?: string | string[];
  anyOf?: PropSchema[];
  oneOf?: PropSchema[];
  enum?: unknown[];
  const?: unknown;
  items?: PropSchema;
  default?: unknown;
  description?: string;
}

function typeOf(p: PropSchema): string {
  if (p.enum) return p.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (p.const !== undefined) return JSON.stringify(p.const);
  const alts = p.anyOf ?? p.oneOf;
  if (alts) return [...new Set(alts.map(typeOf))].join(' | ');
  const t = Array.isArray(p.type) ? p.type.join(' | ') : (p.type ?? 'any');
  return t === 'array' && p.items ? `${typeOf(p.items)}[]` : t;
}

/** A starting body for "Try it": required parameters with a blank of their type. */
function exampleBody(op: ManifestOperation): string {
  const props = (op.parameters.properties ?? {}) as Record<string, PropSchema>;
  const required = (op.parameters.required ?? []) as string[];
  const blank = (p: PropSchema): unknown => {
    if (p.enum?.length) return p.enum[0];
    const t = Array.isArray(p.type) ? p.type[0] : (p.type ?? (p.anyOf ?? p.oneOf)?.[0]?.type);
    const first = Array.isArray(t) ? t[0] : t;
    return first === 'number' || first === 'integer' ? 0 : first === 'boolean' ? false : first === 'array' ? [] : first === 'object' ? {} : '';
  };
  const body: Record<string, unknown> = {};
  for (const name of required) if (props[name]) body[name] = blank(props[name]);
  return JSON.stringify(body, null, 2);
}

function renderOperation(op: ManifestOperation): string {
  const props = (op.parameters.properties ?? {}) as Record<string, PropSchema>;
  const required = new Set((op.parameters.required ?? []) as string[]);
  const rows = Object.entries(props)
    .map(
      ([name, p]) =>
        `<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ''}</td><td><code>${esc(typeOf(p))}</code></td><td>${p.default !== undefined ? `<code>${esc(JSON.stringify(p.default))}</code>` : ''}</td><td>${esc(p.description ?? '')}</td></tr>`,
    )
    .join('');
  const params = rows
    ? `<table class="params"><thead><tr><th>Parameter</th><th>Type</th><th>Default</th><th>Description</th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p class="none">No parameters.</p>';
  const example = exampleBody(op);
  return `<section class="op" id="op-${esc(op.name)}" data-op="${esc(op.name)}">
<h3><code>${esc(op.name)}</code> <span class="safety ${esc(op.safety)}">${esc(op.safety)}</span>${op.min_api_version ? ` <span class="minv">API ${esc(op.min_api_version)}+</span>` : ''}</h3>
<p class="title">${esc(op.title)}: <code>POST ${esc(OPERATION_PATH_PREFIX + op.name)}</code></p>
<p>${esc(op.description)}</p>
${params}
<p class="result"><b>Result:</b> ${esc(op.result)}</p>
<details class="try"><summary>Try it</summary>
<textarea class="body" rows="${Math.min(12, example.split('\n').length + 1)}" spellcheck="false" aria-label="Parameters of ${esc(op.name)}">${esc(example)}</textarea>
<button type="button" class="send">Send</button> <span class="status" aria-live="polite"></span>
<pre class="out"></pre>
</details>
</section>`;
}

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fafbfc}
header{background:#0b3d59;color:#fff;padding:14px 24px;position:sticky;top:0;z-index:1}
header h1{margin:0;font-size:20px;display:inline}
header .ver{opacity:.8;margin-left:8px}
header a{color:#cde}
header label{margin-left:18px}
header input,header select{font:inherit;padding:2px 6px}
main{display:flex}
nav{width:260px;flex:none;padding:12px 16px;border-right:1px solid #dde;height:calc(100vh - 56px);overflow:auto;position:sticky;top:56px}
nav h4{margin:12px 0 4px;text-transform:capitalize}
nav a{display:block;color:#0b5394;text-decoration:none;font-family:ui-monospace,monospace;font-size:13px}
.content{padding:8px 28px;flex:1;min-width:0}
h2{text-transform:capitalize;border-bottom:2px solid #0b3d59;padding-bottom:4px}
.op{background:#fff;border:1px solid #dde;border-radius:6px;padding:4px 16px 12px;margin:14px 0}
.op h3{margin:10px 0 4px}
.safety{font-size:12px;padding:1px 8px;border-radius:10px;vertical-align:middle}
.safety.read{background:#d9f2e3}.safety.write{background:#fff0c2}.safety.destructive{background:#f9d3d3}
.minv{font-size:12px;color:#555}
.title{color:#444;margin:2px 0}
.req{color:#a40000;font-size:11px}
table.params{border-collapse:collapse;width:100%;font-size:13px}
table.params th,table.params td{border:1px solid #e3e6ea;padding:3px 6px;text-align:left;vertical-align:top}
.none{color:#666}
textarea.body{width:100%;font:13px ui-monospace,monospace;box-sizing:border-box}
pre.out{background:#f3f5f7;padding:8px;overflow:auto;max-height:400px;font-size:12px}
.status{font-weight:600}
`;

// Runs in the browser; no external code, no innerHTML (responses are shown as text).
const SCRIPT = `
(function(){
  document.body.setAttribute('data-ready','1');
  var keyInput=document.getElementById('apikey');
  var endpointSelect=document.getElementById('endpoint');
  document.addEventListener('click',function(ev){
    var btn=ev.target;
    if(!btn||!btn.classList||!btn.classList.contains('send'))return;
    var sec=btn.closest('section.op');
    var op=sec.getAttribute('data-op');
    var out=sec.querySelector('pre.out');
    var status=sec.querySelector('.status');
    var body=sec.querySelector('textarea.body').value.trim()||'{}';
    try{JSON.parse(body)}catch(e){status.textContent='Body is not valid JSON: '+e.message;return}
    var url='${OPERATION_PATH_PREFIX}'+encodeURIComponent(op);
    if(endpointSelect&&endpointSelect.value)url+='?endpoint='+encodeURIComponent(endpointSelect.value);
    var headers={'Content-Type':'application/json','Accept':'application/json'};
    if(keyInput.value)headers['Authorization']='Bearer '+keyInput.value;
    status.textContent='…';out.textContent='';
    var started=performance.now();
    fetch(url,{method:'POST',headers:headers,body:body}).then(function(res){
      return res.text().then(function(text){
        status.textContent='HTTP '+res.status+' ('+Math.round(performance.now()-started)+' ms)';
        try{out.textContent=JSON.stringify(JSON.parse(text),null,2)}catch(e){out.textContent=text}
      });
    },function(err){status.textContent='Request failed: '+err.message});
  });
})();
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** Content-Security-Policy for the page: only its own inline style and script, and fetch to this origin. */
export const DOCS_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function renderDocs(endpoints: readonly string[], authRequired: boolean): string {
  const manifest = buildManifest();
  const byCategory = new Map<string, ManifestOperation[]>();
  for (const op of manifest.operations) byCategory.set(op.category, [...(byCategory.get(op.category) ?? []), op]);
  const nav = [...byCategory]
    .map(([cat, ops]) => `<h4>${esc(cat)}</h4>${ops.map((o) => `<a href="#op-${esc(o.name)}">${esc(o.name)}</a>`).join('')}`)
    .join('');
  const sections = [...byCategory].map(([cat, ops]) => `<h2 id="cat-${esc(cat)}">${esc(cat)}</h2>${ops.map(renderOperation).join('\n')}`).join('\n');
  const endpointPicker =
    endpoints.length > 1
      ? `<label>Endpoint <select id="endpoint">${endpoints.map((e) => `<option value="${esc(e)}">${esc(e)}</option>`).join('')}</select></label>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Docker Connector API</title>
<style>${STYLE}</style></head>
<body>
<header><h1>Docker Connector API</h1><span class="ver">v${esc(PACKAGE_VERSION)} · ${manifest.operations.length} operations · <a href="/openapi.json">openapi.json</a></span>
<label>API key <input id="apikey" type="password" autocomplete="off" placeholder="${authRequired ? 'required' : 'not required'}"></label>
${endpointPicker}</header>
<main><nav>${nav}</nav><div class="content">
<p>Run an operation with <code>POST ${esc(OPERATION_PATH_PREFIX)}{name}</code>, its parameters as the JSON body, <code>Authorization: Bearer &lt;key&gt;</code>${endpoints.length > 1 ? ' and <code>?endpoint=</code> to choose the Engine' : ''}. Errors are <code>{"error": {"code", "status", "message", "operation"}}</code>.</p>
${sections}
</div></main>
<script>${SCRIPT}</script>
</body></html>
`;
}
