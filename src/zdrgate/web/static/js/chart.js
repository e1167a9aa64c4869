// Retention per endpoint as a horizontal bar chart in SVG: a log scale of days, with 0
// days drawn as its own mark (a ring at the start of the axis: "keeps nothing"), unknown
// retention as a dashed outline. Colour says ZDR or standard; price is in each bar's
// label and tooltip.

const NS = "http://www.w3.org/2000/svg";
const MAX_DAYS = 3650;
const ROW = 26;
const LEFT = 190;
const WIDTH = 700;
const SCALE = WIDTH - LEFT - 150;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function retentionText(policy) {
  const days = policy?.retention_days;
  if (days === 0) return "0 days";
  if (days === null || days === undefined) return "unknown";
  return days === 1 ? "1 day" : `${days} days`;
}

const x = (days) => (Math.log10(Math.max(days, 1)) / Math.log10(MAX_DAYS)) * SCALE;

export function retentionChart(endpoints) {
  const height = endpoints.length * ROW + 50;
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "chart", role: "img" });
  const summary = endpoints.map((e) => `${e.provider_name}: ${retentionText(e.policy)}`).join("; ");
  chart.append(svg("title", {}, `Retention per endpoint (log scale): ${summary}`));
  endpoints.forEach((e, i) => {
    const y = i * ROW + 4;
    const zdr = e.zdr_capable;
    const price = e.prompt_price != null ? `$${+e.prompt_price.toFixed(3)} in` : e.image_price != null ? `$${e.image_price}/image` : "";
    const row = svg("g", {});
    row.append(svg("title", {}, `${e.provider_name}: ${retentionText(e.policy)}, training ${e.policy.trains_on_data === false ? "no" : "yes or unknown"}, ${price || "no price"}`));
    const name = `${e.provider_name}${e.region ? ` (${e.region})` : ""}`;
    row.append(svg("text", { x: LEFT - 8, y: y + 15, "text-anchor": "end" }, name.length > 28 ? `${name.slice(0, 27)}…` : name));
    const days = e.policy.retention_days;
    let end = LEFT;
    if (days === 0) {
      row.append(svg("circle", { cx: LEFT + 8, cy: y + 11, r: 6, class: "zero" }));
      end = LEFT + 16;
    } else if (days === null || days === undefined) {
      row.append(svg("rect", { x: LEFT, y: y + 3, width: SCALE, height: 16, fill: "none", stroke: "currentColor", "stroke-dasharray": "4 3", class: "unknown" }));
      end = LEFT + SCALE;
    } else {
      const w = Math.max(x(days), 4);
      row.append(svg("rect", { x: LEFT, y: y + 3, width: w, height: 16, rx: 2, class: zdr ? "bar-zdr" : "bar-std" }));
      end = LEFT + w;
    }
    const agreement = days > 0 && zdr ? " by default, 0 under ZDR" : "";
    row.append(svg("text", { x: end + 6, y: y + 15 }, `${retentionText(e.policy)}${agreement}${price ? ` · ${price}` : ""}`));
    chart.append(row);
  });
  const axisY = endpoints.length * ROW + 10;
  chart.append(svg("line", { x1: LEFT, x2: LEFT + SCALE, y1: axisY, y2: axisY, class: "axis" }));
  for (const [days, label] of [[1, "1 d"], [30, "30 d"], [365, "1 y"], [3650, "10 y"]]) {
    chart.append(svg("line", { x1: LEFT + x(days), x2: LEFT + x(days), y1: axisY, y2: axisY + 4, class: "axis" }));
    chart.append(svg("text", { x: LEFT + x(days), y: axisY + 16, "text-anchor": "middle" }, label));
  }
  chart.append(svg("circle", { cx: LEFT + 4, cy: axisY + 30, r: 4, class: "zero" }));
  chart.append(svg("text", { x: LEFT + 12, y: axisY + 34 }, "0 days: keeps nothing. Bars: days kept, log scale. Green: ZDR available; amber: standard."));
  return chart;
}
