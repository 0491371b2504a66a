/*
 * The HTML report: one file, no network. The JSON report is embedded in a
 * <script type="application/json"> element (its strings escape <, > and &,
 * so it cannot close the element) and rendered by the inline script below:
 * a table of groups with their stacks, a search box over states, frames and
 * sites, a minimum-wait filter, for a diff a bar chart per site of its
 * count before and after, and for a watch a line chart per site over the
 * kept snapshots (the page reloads itself, as the file is rewritten after
 * each snapshot).
 */
#include "report.h"

static const char head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>tether-leaks report</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
    "h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "tr.leaked td{background:#fde8e8}tr.suspect td{background:#fff6dd}\n"
    "pre{margin:4px 0;font:12px/1.3 ui-monospace,monospace;white-space:pre-wrap}\n"
    ".controls{margin:1em 0;display:flex;gap:1em;align-items:center;flex-wrap:wrap}\n"
    ".tag{font-size:11px;padding:1px 5px;border-radius:3px;background:#eee}\n"
    ".tag.leaked{background:#c62828;color:#fff}.tag.suspect{background:#f9a825}\n"
    ".fix{color:#555}svg .b{fill:#90a4ae}svg .a{fill:#e53935}svg text{font:11px sans-serif}\n"
    "svg .l{fill:none;stroke:#e53935;stroke-width:2}svg .l.flat{stroke:#90a4ae}\n"
    "</style></head><body>\n<h1 id=\"title\">tether-leaks</h1>\n<p id=\"summary\"></p>\n"
    "<div class=\"controls\">\n"
    "<label>Search <input id=\"search\" type=\"search\" placeholder=\"function, file, "
    "state\"></label>\n"
    "<label>Waiting at least <input id=\"minwait\" type=\"number\" min=\"0\" value=\"0\" "
    "style=\"width:5em\"> minutes</label>\n"
    "<span id=\"shown\"></span></div>\n"
    "<div id=\"sites\"></div>\n<h2>Groups</h2>\n<table id=\"groups\"><thead><tr>"
    "<th>#</th><th>Count</th><th>State</th><th>Wait min/med/max</th><th>Site</th>"
    "<th>Verdict</th></tr></thead><tbody></tbody></table>\n"
    "<script type=\"application/json\" id=\"data\">\n";

static const char tail[] =
    "</script>\n<script>\n"
    "'use strict';\n"
    "const D=JSON.parse(document.getElementById('data').textContent);\n"
    "const $=id=>document.getElementById(id);\n"
    "const el=(t,c,txt)=>{const e=document.createElement(t);if(c)e.className=c;"
    "if(txt!==undefined)e.textContent=txt;return e;};\n"
    "const dur=s=>s==null?'-':s<60?s+'s':s<3600?Math.floor(s/60)+'m':"
    "Math.floor(s/3600)+'h'+Math.floor(s/60)%60+'m';\n"
    "const fr=f=>f?(f.func+(f.file?' '+f.file+':'+f.line:'')):'?';\n"
    "const siteTxt=s=>(s.kind==='created_by'?'created by ':'entry ')+fr(s.frame);\n"
    "const rows=[];\n"
    "function addGroup(tb,i,g,extra){\n"
    "  const tr=el('tr',g.leaked?'leaked':g.suspect?'suspect':'');\n"
    "  tr.appendChild(el('td','n',String(i+1)));\n"
    "  tr.appendChild(el('td','n',extra?extra:String(g.count)));\n"
    "  tr.appendChild(el('td','',g.state||'(no state)'));\n"
    "  tr.appendChild(el('td','',g.wait_s?dur(g.wait_s.min)+'/'+dur(g.wait_s.median)+'/'+"
    "dur(g.wait_s.max):'-'));\n"
    "  const st=el('td');st.appendChild(el('div','',siteTxt(g.site)));\n"
    "  const det=el('details');det.appendChild(el('summary','',fr(g.top_user_frame)));\n"
    "  det.appendChild(el('pre','',g.frames.map(f=>f.func+f.args+(f.file?'\\n    '+f.file+':'+"
    "f.line:'')).join('\\n')));\n"
    "  st.appendChild(det);tr.appendChild(st);\n"
    "  const v=el('td');\n"
    "  if(g.suspect){v.appendChild(el('span','tag '+(g.suspect.proven?'leaked':'suspect'),"
    "g.suspect.proven?'proven leak':'suspect'));v.appendChild(el('div','',g.suspect.title));"
    "v.appendChild(el('div','fix','fix: '+g.suspect.fix));}\n"
    "  tr.appendChild(v);tb.appendChild(tr);\n"
    "  const text=[g.state,siteTxt(g.site)].concat(g.frames.map(fr)).join('\\n').toLowerCase();\n"
    "  rows.push({tr,text,wait:g.wait_s?g.wait_s.max:null});\n"
    "}\n"
    "function bars(s,max){\n"
    "  const W=240,H=34,ns='http://www.w3.org/2000/svg';\n"
    "  const svg=document.createElementNS(ns,'svg');svg.setAttribute('width',W+60);"
    "svg.setAttribute('height',H);svg.setAttribute('class','chart');\n"
    "  [['b',s.before,2],['a',s.after,18]].forEach(([c,v,y])=>{\n"
    "    const r=document.createElementNS(ns,'rect');r.setAttribute('class',c);"
    "r.setAttribute('x',0);r.setAttribute('y',y);\n"
    "    r.setAttribute('width',Math.max(1,Math.round(W*v/Math.max(1,max))));"
    "r.setAttribute('height',14);svg.appendChild(r);\n"
    "    const t=document.createElementNS(ns,'text');t.setAttribute('x',Math.round(W*v/"
    "Math.max(1,max))+4);t.setAttribute('y',y+11);t.textContent=String(v);svg.appendChild(t);\n"
    "  });\n  return svg;\n}\n"
    "function line(s){\n"
    "  const W=240,H=40,ns='http://www.w3.org/2000/svg',n=s.counts.length;\n"
    "  const max=Math.max(1,...s.counts),min=Math.min(...s.counts),span=Math.max(1,max-min);\n"
    "  const svg=document.createElementNS(ns,'svg');svg.setAttribute('width',W+60);"
    "svg.setAttribute('height',H);svg.setAttribute('class','chart');\n"
    "  const pts=s.counts.map((v,i)=>[Math.round(4+(W-8)*(n>1?i/(n-1):0)),Math.round(H-4-(H-8)*"
    "(v-min)/span)]);\n"
    "  const p=document.createElementNS(ns,'polyline');p.setAttribute('class',s.growing?'l':'l "
    "flat');"
    "p.setAttribute('points',pts.map(x=>x.join(',')).join(' '));svg.appendChild(p);\n"
    "  const t=document.createElementNS(ns,'text');t.setAttribute('x',W+4);t.setAttribute('y',14);"
    "t.textContent=String(s.counts[n-1]);svg.appendChild(t);\n"
    "  return svg;\n}\n"
    "function apply(){\n"
    "  const q=$('search').value.trim().toLowerCase();\n"
    "  const mw=Number($('minwait').value)*60||0;let n=0;\n"
    "  for(const r of rows){const ok=(!q||r.text.includes(q))&&(mw<=0||(r.wait!=null&&r.wait>=mw));"
    "r.tr.style.display=ok?'':'none';if(ok)n++;}\n"
    "  $('shown').textContent=n+' of '+rows.length+' groups shown';\n"
    "}\n"
    "const tb=document.querySelector('#groups tbody');\n"
    "if(D.kind==='diff'){\n"
    "  $('title').textContent='tether-leaks diff';\n"
    "  $('summary').textContent=D.old.total+' \\u2192 '+D.new.total+' goroutines ('+D.old.source+"
    "' \\u2192 '+D.new.source+')'+(D.max_growth!=null?'; '+D.sites_over+' site(s) grew by more "
    "than '+D.max_growth:'');\n"
    "  const box=$('sites');box.appendChild(el('h2','','Growth per site'));\n"
    "  const t=el('table');t.id='sitetable';const h=el('tr');['Site','Before','After','Delta',"
    "'Growth'].forEach(x=>h.appendChild(el('th','',x)));t.appendChild(h);\n"
    "  const max=Math.max(1,...D.sites.map(s=>Math.max(s.before,s.after)));\n"
    "  for(const s of D.sites){const tr=el('tr',s.over_threshold?'leaked':s.delta>0?'suspect':'');"
    "tr.appendChild(el('td','',siteTxt(s.site)));\n"
    "    tr.appendChild(el('td','n',String(s.before)));tr.appendChild(el('td','n',"
    "String(s.after)));tr.appendChild(el('td','n',(s.delta>0?'+':'')+s.delta));\n"
    "    const c=el('td');c.appendChild(bars(s,max));tr.appendChild(c);t.appendChild(tr);}\n"
    "  box.appendChild(t);\n"
    "  D.groups.forEach((r,i)=>addGroup(tb,i,r.group,r.before+' \\u2192 '+r.after+' ('+"
    "(r.delta>0?'+':'')+r.delta+')'+(r.new?' new':'')+(r.older?' older':'')));\n"
    "}else if(D.kind==='watch'){\n"
    "  $('title').textContent='tether-leaks watch';\n"
    "  const last=D.snapshots[D.snapshots.length-1];\n"
    "  $('summary').textContent='snapshot '+last.seq+' of '+D.source+' at '+new "
    "Date(last.time*1000)"
    ".toLocaleTimeString()+': '+last.total+' goroutines; '+D.ngrowing+' site(s) kept growing over "
    "the last '+D.snapshots.length+' snapshots (never fell, rose by at least '+D.min_growth+')';\n"
    "  const box=$('sites');box.appendChild(el('h2','','Sites over the kept snapshots'));\n"
    "  const t=el('table');t.id='sitetable';const h=el('tr');['Site','Counts','Delta','Chart']"
    ".forEach(x=>h.appendChild(el('th','',x)));t.appendChild(h);\n"
    "  for(const s of D.sites){const tr=el('tr',s.growing?'leaked':'');"
    "tr.appendChild(el('td','',siteTxt(s.site)));\n"
    "    tr.appendChild(el('td','',s.counts.join(' \\u2192 ')));tr.appendChild(el('td','n',"
    "(s.delta>0?'+':'')+s.delta));\n"
    "    const c=el('td');c.appendChild(line(s));tr.appendChild(c);t.appendChild(tr);}\n"
    "  box.appendChild(t);\n"
    "  D.sites.forEach((s,i)=>addGroup(tb,i,s.group,s.group.count+(s.growing?' (site "
    "growing)':'')));\n"
    "  if(typeof REFRESH_S!=='undefined'&&REFRESH_S>0)setTimeout(()=>location.reload(),"
    "REFRESH_S*1000);\n"
    "}else{\n"
    "  $('summary').textContent=D.total+' goroutines in '+D.ngroups+' groups ('+D.format+', '+"
    "D.source+'). Suspects are suspects: a dump shows where goroutines wait, not that nothing "
    "can wake them.';\n"
    "  D.groups.forEach((g,i)=>addGroup(tb,i,g));\n"
    "}\n"
    "$('search').addEventListener('input',apply);$('minwait').addEventListener('input',apply);\n"
    "apply();\n"
    "</script>\n</body></html>\n";

void lk_html_snap(FILE *out, const lk_snap *s, const lk_view *v) {
  fputs(head, out);
  lk_json_snap(out, s, v);
  fputs(tail, out);
}

void lk_html_diff(FILE *out, const lk_diff *d, const lk_view *v) {
  fputs(head, out);
  lk_json_diff(out, d, v);
  fputs(tail, out);
}

void lk_html_watch(FILE *out, const lk_watch *w, const lk_view *v, int64_t refresh_s) {
  static const char close_data[] = "</script>\n";
  fputs(head, out);
  lk_json_watch(out, w, v);
  fprintf(out, "%s<script>const REFRESH_S=%lld;</script>\n", close_data, (long long)refresh_s);
  fputs(tail + sizeof close_data - 1, out); /* tail opens with close_data */
}
