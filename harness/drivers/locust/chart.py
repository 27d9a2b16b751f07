"""The self-contained "Bookinfo split" page that the Locust web UI extension serves at ``/bookinfo/``.

Pure: one HTML string with an inline stylesheet and script (no CDN, no external file: the lab machines are
offline). The script polls ``split.json`` next to the page every two seconds and draws, per identity, the
live shares with their anytime-valid intervals, the expected split, the sequential verdict, and an SVG chart
of the shares over time (each point: the shares among the pages of the trailing 5 s).
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bookinfo split</title>
<style>
body{font-family:system-ui,sans-serif;margin:16px;color:#1b1b1b;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:18px 0 6px}
.meta{color:#555;font-size:13px} table{border-collapse:collapse;margin:6px 0;background:#fff}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right} th{background:#eee}
td:first-child{text-align:left}
.badge{display:inline-block;padding:2px 8px;border-radius:4px;font-weight:bold}
.PASS{background:#c8efc8} .FAIL{background:#f6c4c4} .INCONCLUSIVE,.undecided{background:#f3e3b5}
.reason{font-size:12px;color:#333;max-width:900px} svg{background:#fff;border:1px solid #ccc}
</style></head><body>
<h1>Bookinfo split <span id="scenario" class="meta"></span></h1>
<div class="meta" id="settings">waiting for data&hellip;</div>
<div id="identities"></div>
<script>
"use strict";
var COLORS={"v1":"#1f77b4","v2":"#2ca02c","v3":"#d62728","v2-or-v3":"#9467bd","unknown":"#7f7f7f"};
function color(v){return COLORS[v]||"#ff7f0e";}
function el(tag,attrs,text){var e=document.createElement(tag);
 for(var k in attrs||{})e.setAttribute(k,attrs[k]);
 if(text!==undefined)e.textContent=text;return e;}
function svgEl(tag,attrs){var e=document.createElementNS("http://www.w3.org/2000/svg",tag);
 for(var k in attrs)e.setAttribute(k,attrs[k]);return e;}
function pct(x){return (100*x).toFixed(1)+"%";}
function chart(points,expected){
 var W=640,H=220,L=40,R=80,T=10,B=25,svg=svgEl("svg",{width:W,height:H,"class":"chart"});
 var t1=points.length?points[points.length-1].t:1,t0=points.length?points[0].t:0; if(t1<=t0)t1=t0+1;
 function x(t){return L+(W-L-R)*(t-t0)/(t1-t0);} function y(s){return T+(H-T-B)*(1-s);}
 [0,0.25,0.5,0.75,1].forEach(function(s){svg.appendChild(svgEl("line",{x1:L,x2:W-R,y1:y(s),y2:y(s),stroke:"#eee"}));
  var lab=svgEl("text",{x:4,y:y(s)+4,"font-size":11});lab.textContent=pct(s);svg.appendChild(lab);});
 var names={};points.forEach(function(p){for(var v in p.shares)names[v]=1;});
 for(var v in expected||{})names[v]=1;
 Object.keys(names).sort().forEach(function(v,i){
  if(expected&&expected[v]!==undefined&&expected[v]!==null){svg.appendChild(svgEl("line",{x1:L,x2:W-R,
   y1:y(expected[v]),y2:y(expected[v]),stroke:color(v),"stroke-dasharray":"5,4","stroke-width":1}));}
  var d="";points.forEach(function(p,j){
   d+=(j?"L":"M")+x(p.t).toFixed(1)+","+y(p.shares[v]||0).toFixed(1);});
  if(d)svg.appendChild(svgEl("path",{d:d,fill:"none",stroke:color(v),"stroke-width":2}));
  var lab=svgEl("text",{x:W-R+8,y:T+14+16*i,fill:color(v),"font-size":12});
  lab.textContent=v;svg.appendChild(lab);
 });
 var ax=svgEl("text",{x:L,y:H-6,"font-size":11});ax.textContent=t0.toFixed(0)+" s";
 svg.appendChild(ax);
 var ax2=svgEl("text",{x:W-R-30,y:H-6,"font-size":11});ax2.textContent=t1.toFixed(0)+" s";
 svg.appendChild(ax2);
 return svg;
}
function render(data){
 document.getElementById("scenario").textContent=data.scenario;
 var s=data.settings;
 document.getElementById("settings").textContent="tolerance "+s.tolerance+", alpha "+s.alpha+", beta "+s.beta+
  ", gate "+s.gate+", "+s.login_user+" share "+s.jason_share+", elapsed "+data.elapsed.toFixed(0)+" s";
 var root=document.getElementById("identities");root.textContent="";
 data.identities.forEach(function(who){
  var box=el("section",{"class":"identity","data-identity":who.identity});
  box.appendChild(el("h2",{},who.identity+(who.probe?" (probe "+who.probe+")":"")+": "+who.n+" pages"));
  var v=who.verdict;
  if(v){var b=el("span",{"class":"badge "+(v.status||"undecided"),"id":"verdict-"+who.identity},v.label);
   box.appendChild(b);box.appendChild(el("div",{"class":"reason"},v.n+" requests in the test: "+v.reason));}
  else box.appendChild(el("div",{"class":"reason"},"no expectation for this identity"));
  var t=el("table",{"class":"shares"});var hr=el("tr");
  ["version","count","share","interval (anytime-valid)","expected"].forEach(function(h){
   hr.appendChild(el("th",{},h));});
  t.appendChild(hr);var expected={};
  who.versions.forEach(function(r){var tr=el("tr",{"data-version":r.version});
   tr.appendChild(el("td",{},r.version));tr.appendChild(el("td",{},String(r.count)));
   tr.appendChild(el("td",{"class":"share"},pct(r.share)));
   tr.appendChild(el("td",{},"["+pct(r.low)+", "+pct(r.high)+"]"));
   tr.appendChild(el("td",{},r.expected===null?"-":pct(r.expected)));t.appendChild(tr);
   if(r.expected!==null)expected[r.version]=r.expected;});
  box.appendChild(t);box.appendChild(chart(who.history,expected));root.appendChild(box);
 });
 document.body.setAttribute("data-loaded","1");
}
function poll(){var r=new XMLHttpRequest();r.open("GET","split.json");
 r.onload=function(){if(r.status===200)render(JSON.parse(r.responseText));};r.send();}
poll();setInterval(poll,2000);
</script></body></html>
"""
