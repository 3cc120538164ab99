-- Flame graphs, written by bpflua itself: an SVG a browser opens, with a
-- tooltip per frame and click-to-zoom (click the bottom frame to reset).
-- Input: a list of { frames = { root, ..., leaf }, count = N }.
local M = {}

local WIDTH, ROW, PAD, TOP = 1200, 16, 10, 40
local CHAR = 7 -- px per character at font-size 12, for cutting labels

-- Names come from other processes and binaries: control characters and
-- bytes that are not UTF-8 are not allowed in XML at all, so they are shown
-- escaped (BPF.printable) before the XML escaping.
local function escape(s)
  return (BPF.printable(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&apos;" }))
end

-- Warm colours, stable per name (the same function keeps its colour
-- between graphs); kernel frames (suffix _[k]) in orange.
local function colour(name)
  local h = 0
  for i = 1, math.min(#name, 24) do h = (h * 31 + name:byte(i)) % 65536 end
  if name:sub(-4) == "_[k]" then
    return string.format("rgb(%d,%d,%d)", 230 + h % 20, 130 + h % 60, 40 + h % 30)
  end
  return string.format("rgb(%d,%d,%d)", 205 + h % 50, 60 + (h // 50) % 150, 40 + h % 40)
end

local function build(stacks)
  local root = { name = "all", count = 0, children = {}, order = {} }
  for _, s in ipairs(stacks) do
    local node = root
    node.count = node.count + s.count
    for _, f in ipairs(s.frames) do
      local c = node.children[f]
      if not c then
        c = { name = f, count = 0, children = {}, order = {} }
        node.children[f] = c
        node.order[#node.order + 1] = c
      end
      c.count = c.count + s.count
      node = c
    end
  end
  return root
end

local function depth_of(node)
  local d = 0
  for _, c in ipairs(node.order) do d = math.max(d, depth_of(c)) end
  return d + 1
end

local SCRIPT = [[
var W = %d, CHAR = %d;
function label(g, w) {
  var t = g.querySelector("text"), n = g.getAttribute("data-n");
  var fit = Math.floor((w - 6) / CHAR);
  t.textContent = fit < 3 ? "" : (n.length <= fit ? n : n.substring(0, fit - 2) + "..");
}
function zoom(e) {
  var g = e.currentTarget;
  var x0 = +g.getAttribute("data-x"), w0 = +g.getAttribute("data-w"), d0 = +g.getAttribute("data-d");
  var all = document.querySelectorAll("g.f");
  for (var i = 0; i < all.length; i++) {
    var f = all[i], x = +f.getAttribute("data-x"), w = +f.getAttribute("data-w"), d = +f.getAttribute("data-d");
    var r = f.querySelector("rect"), t = f.querySelector("text");
    var inside = d >= d0 && x >= x0 - 1e-9 && x + w <= x0 + w0 + 1e-9;
    var below = d < d0 && x <= x0 + 1e-9 && x + w >= x0 + w0 - 1e-9;
    if (inside) {
      var nx = %d + (x - x0) / w0 * W, nw = w / w0 * W;
      f.style.display = ""; f.style.opacity = 1;
      r.setAttribute("x", nx); r.setAttribute("width", nw); t.setAttribute("x", nx + 3); label(f, nw);
    } else if (below) {
      f.style.display = ""; f.style.opacity = 0.5;
      r.setAttribute("x", %d); r.setAttribute("width", W); t.setAttribute("x", %d + 3); label(f, W);
    } else {
      f.style.display = "none";
    }
  }
}
var fs = document.querySelectorAll("g.f");
for (var i = 0; i < fs.length; i++) fs[i].addEventListener("click", zoom);
]]

-- Returns the SVG text. unit: what the counts are ("samples" unless said,
-- e.g. "us" for off-CPU microseconds).
function M.svg(stacks, title, unit)
  unit = unit or "samples"
  local root = build(stacks)
  local total = root.count
  local depth = depth_of(root)
  local height = TOP + depth * ROW + PAD * 2
  local out = {}
  local function w(s) out[#out + 1] = s end
  w('<?xml version="1.0" standalone="no"?>\n')
  w(string.format('<svg version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" ' ..
                  'xmlns="http://www.w3.org/2000/svg">\n', WIDTH + 2 * PAD, height, WIDTH + 2 * PAD, height))
  w('<style>text { font-family: monospace; font-size: 12px; fill: #000; pointer-events: none; } ' ..
    'g.f:hover rect { stroke: #000; stroke-width: 0.5; } g.f { cursor: pointer; }</style>\n')
  w(string.format('<rect x="0" y="0" width="100%%" height="100%%" fill="#fdfdf4"/>\n'))
  w(string.format('<text x="%d" y="24" style="font-size:16px">%s</text>\n', PAD, escape(title or "Flame graph")))
  w(string.format('<text x="%d" y="24" text-anchor="end">%d %s; click a frame to zoom, the bottom one to reset</text>\n',
                  WIDTH + PAD, total, unit))
  local function frame(node, x, d)
    local width = total > 0 and node.count / total * WIDTH or WIDTH
    local y = height - PAD - (d + 1) * ROW
    local name = node.name
    local fit = math.floor((width - 6) / CHAR)
    local shown = fit < 3 and "" or (#name <= fit and name or name:sub(1, fit - 2) .. "..")
    w(string.format('<g class="f" data-n="%s" data-x="%.4f" data-w="%.4f" data-d="%d">' ..
                    '<title>%s (%d %s, %.2f%%)</title>' ..
                    '<rect x="%.2f" y="%d" width="%.2f" height="%d" rx="2" fill="%s"/>' ..
                    '<text x="%.2f" y="%d">%s</text></g>\n',
                    escape(name), x, width, d, escape(name), node.count, unit, total > 0 and node.count * 100 / total or 0,
                    x, y, width, ROW - 1, colour(name), x + 3, y + ROW - 4, escape(shown)))
    table.sort(node.order, function(a, b) return a.name < b.name end)
    local cx = x
    for _, c in ipairs(node.order) do
      frame(c, cx, d + 1)
      cx = cx + (total > 0 and c.count / total * WIDTH or 0)
    end
  end
  frame(root, PAD, 0)
  w('<script type="text/ecmascript"><![CDATA[\n')
  w(string.format(SCRIPT, WIDTH, CHAR, PAD, PAD, PAD))
  w(']]></script>\n</svg>\n')
  return table.concat(out)
end

-- "a;b;c count" lines, as flamegraph.pl, inferno and speedscope read them.
-- One line per stack (stacks that print the same are one line, their
-- counts added), frames joined by ";" and the count after a space:
-- a frame keeps neither (";" becomes ":", as stackcollapse-perf.pl does,
-- and the rest is BPF.printable), so any name gives a well-formed line.
function M.folded(stacks)
  local counts, lines = {}, {}
  for _, s in ipairs(stacks) do
    local frames = {}
    for i, f in ipairs(s.frames) do frames[i] = BPF.printable(f):gsub(";", ":") end
    local line = table.concat(frames, ";")
    if not counts[line] then lines[#lines + 1] = line end
    counts[line] = (counts[line] or 0) + s.count
  end
  table.sort(lines)
  for i, line in ipairs(lines) do lines[i] = line .. " " .. counts[line] end
  return lines
end

return M
