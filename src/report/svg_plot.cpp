#include "lrnn/report/svg_plot.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <stdexcept>

#include "lrnn/core/errors.hpp"

namespace lrnn {

namespace {

constexpr std::array<std::string_view, 8> kOkabeIto = {"#0072B2", "#D55E00", "#009E73", "#E69F00",
                                                       "#CC79A7", "#56B4E9", "#000000", "#F0E442"};

// Font sizes in px: legible at 100% zoom.
constexpr double kTickFont = 11.0;
constexpr double kLabelFont = 13.0;
constexpr double kTitleFont = 13.0;
constexpr double kFigureTitleFont = 15.0;
constexpr double kLegendFont = 11.0;
constexpr double kFigureTitleHeight = 30.0;
constexpr double kTickLength = 4.0;
constexpr double kLegendRow = 17.0;     // legend line height, px
constexpr double kLegendSample = 24.0;  // legend sample (line, patch) width, px
constexpr double kMargin = 0.05;        // auto limits: data range plus 5% each side, as matplotlib
// Pixel coordinates are clamped to this, so data far outside the limits stay finite numbers.
constexpr double kMaxCoordinate = 1e6;

constexpr std::string_view kAxisColor = "#333333";
constexpr std::string_view kGridColor = "#e6e6e6";
constexpr std::string_view kTextColor = "#222222";
constexpr std::string_view kReferenceColor = "#808080";

// A number for an SVG attribute: 2 decimals at most, no trailing zeros, never -0, never nan/inf.
std::string num(double v) {
  if (!std::isfinite(v)) v = 0.0;
  v = std::clamp(v, -kMaxCoordinate, kMaxCoordinate);
  std::array<char, 64> buf{};
  const auto res =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed, 2);
  std::string s(buf.data(), res.ptr);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

// Width of a text in px, estimated per character from DejaVu Sans (the usual sans-serif on Linux;
// Arial and Helvetica are about 10% narrower, so boxes sized by it fit both). Only the layout uses
// it: legend boxes, the left margin.
double text_width(std::string_view s, double font_size) {
  double em = 0.0;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
    if (u >= 0x80) {
      em += 0.65;
    } else if (std::string_view("ijl.,:;'|!").find(c) != std::string_view::npos) {
      em += 0.3;
    } else if (std::string_view("ftr ()[]I-").find(c) != std::string_view::npos) {
      em += 0.4;
    } else if (c == 'm' || c == 'w' || c == 'M' || c == 'W') {
      em += 0.95;
    } else if (c >= 'A' && c <= 'Z') {
      em += 0.72;
    } else if (c >= '0' && c <= '9') {
      em += 0.64;
    } else if (c >= 'a' && c <= 'z') {
      em += 0.61;
    } else {
      em += 0.7;
    }
  }
  return em * font_size;
}

std::string_view dash_array(LineStyle d) {
  switch (d) {
    case LineStyle::kDashed:
      return "6 4";
    case LineStyle::kDotted:
      return "1.5 3";
    case LineStyle::kSolid:
      break;
  }
  return {};
}

void append_stroke(std::string& out, const Style& s, std::string_view color) {
  out += " fill=\"none\" stroke=\"";
  out += xml_escape(color);
  out += "\" stroke-width=\"" + num(s.width) + "\"";
  if (s.opacity < 1.0) out += " stroke-opacity=\"" + num(std::max(0.0, s.opacity)) + "\"";
  const auto da = dash_array(s.dash);
  if (!da.empty()) {
    out += " stroke-dasharray=\"";
    out += da;
    out += "\"";
  }
  out += " stroke-linejoin=\"round\" stroke-linecap=\"";
  out += s.dash == LineStyle::kDotted ? "round" : "butt";
  out += "\"";
}

// One marker centred at (x, y); hollow markers are white inside.
void append_marker(std::string& out, Marker m, double x, double y, double r, std::string_view color,
                   bool hollow) {
  const std::string fill = hollow ? "#ffffff" : xml_escape(color);
  const std::string paint =
      " fill=\"" + fill + "\" stroke=\"" + xml_escape(color) + "\" stroke-width=\"1.5\"/>\n";
  switch (m) {
    case Marker::kNone:
      return;
    case Marker::kCircle:
      out += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\"" + paint;
      return;
    case Marker::kSquare: {
      const double h = 0.9 * r;
      out += "<rect x=\"" + num(x - h) + "\" y=\"" + num(y - h) + "\" width=\"" + num(2 * h) +
             "\" height=\"" + num(2 * h) + "\"" + paint;
      return;
    }
    case Marker::kTriangle: {
      const double h = 1.15 * r;
      out += "<path d=\"M" + num(x) + " " + num(y - h) + "L" + num(x + h) + " " + num(y + 0.8 * h) +
             "L" + num(x - h) + " " + num(y + 0.8 * h) + "Z\"" + paint;
      return;
    }
    case Marker::kDiamond: {
      const double h = 1.25 * r;
      out += "<path d=\"M" + num(x) + " " + num(y - h) + "L" + num(x + h) + " " + num(y) + "L" +
             num(x) + " " + num(y + h) + "L" + num(x - h) + " " + num(y) + "Z\"" + paint;
      return;
    }
  }
}

void append_text(std::string& out, double x, double y, std::string_view text, double size,
                 std::string_view anchor, std::string_view cls = {}, std::string_view extra = {}) {
  out += "<text";
  if (!cls.empty()) {
    out += " class=\"";
    out += cls;
    out += "\"";
  }
  out += " x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) + "\"";
  if (anchor != "start") {
    out += " text-anchor=\"";
    out += anchor;
    out += "\"";
  }
  out += extra;
  out += ">" + xml_escape(text) + "</text>\n";
}

std::string to_chars_string(double v, std::chars_format fmt, int precision) {
  std::array<char, 64> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v, fmt, precision);
  return std::string(buf.data(), res.ptr);
}

std::string strip_zeros(std::string s) {
  const auto e = s.find('e');
  std::string exponent;
  if (e != std::string::npos) {
    exponent = s.substr(e);
    s.resize(e);
  }
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s + exponent;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return !(lo <= hi); }
};

// Limits from a data range: a 5% margin (multiplicative on a log axis), a unit interval around a
// single value, [0, 1] (or [0.1, 10] on a log axis) without data.
void auto_limits(const Range& r, bool log, double out[2]) {
  if (log) {
    if (r.empty()) {
      out[0] = 0.1;
      out[1] = 10.0;
      return;
    }
    double a = std::log10(r.lo), b = std::log10(r.hi);
    if (b - a < 1e-12) {
      a -= 0.5;
      b += 0.5;
    }
    const double m = kMargin * (b - a);
    out[0] = std::pow(10.0, a - m);
    out[1] = std::pow(10.0, b + m);
    return;
  }
  if (r.empty()) {
    out[0] = 0.0;
    out[1] = 1.0;
    return;
  }
  double a = r.lo, b = r.hi;
  if (b - a <= 1e-12 * std::max(1.0, std::abs(a))) {
    const double half = a == 0.0 ? 0.5 : 0.1 * std::abs(a);
    a -= half;
    b += half;
  }
  const double m = kMargin * (b - a);
  out[0] = a - m;
  out[1] = b + m;
}

}  // namespace

std::string_view palette_color(int i) {
  const int n = static_cast<int>(kOkabeIto.size());
  return kOkabeIto[static_cast<std::size_t>(((i % n) + n) % n)];
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids control characters other than tab, newline and carriage return.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string format_tick(double v, double step) {
  if (!std::isfinite(v)) return "";
  step = std::abs(step);
  if (!std::isfinite(step) || step == 0.0) step = std::abs(v) > 0 ? std::abs(v) : 1.0;
  const double mag = std::max(std::abs(v), step);
  if (step < 1e-4 || mag >= 1e7) {
    // Scientific: enough significant digits to tell neighbouring ticks apart.
    const int e_mag = static_cast<int>(std::floor(std::log10(mag) + 1e-9));
    int digits = std::max(0, e_mag - static_cast<int>(std::floor(std::log10(step) + 1e-9)));
    // A step of 2.5 x 10^k needs one digit more than its exponent says.
    while (digits < 12) {
      const double scaled = step * std::pow(10.0, digits - e_mag);
      if (std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) break;
      ++digits;
    }
    std::string s = to_chars_string(v, std::chars_format::scientific, digits);
    s = strip_zeros(s);
    // 1e-05 -> 1e-5, 2.5e+07 -> 2.5e7
    const auto e = s.find('e');
    if (e != std::string::npos) {
      std::string mant = s.substr(0, e), ex = s.substr(e + 1);
      const bool neg = !ex.empty() && ex[0] == '-';
      if (!ex.empty() && (ex[0] == '-' || ex[0] == '+')) ex.erase(0, 1);
      while (ex.size() > 1 && ex[0] == '0') ex.erase(0, 1);
      s = mant + "e" + (neg ? "-" : "") + ex;
    }
    return s;
  }
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  // Steps like 0.25 (not produced by nice_ticks, but possible from a caller) need one more.
  int d = decimals;
  while (d < 12) {
    const double scaled = step * std::pow(10.0, d);
    if (std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) break;
    ++d;
  }
  return strip_zeros(to_chars_string(v, std::chars_format::fixed, d));
}

Ticks nice_ticks(double lo, double hi, int max_ticks) {
  Ticks t;
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0.0;
    hi = 1.0;
  }
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(lo))) {
    const double half = lo == 0.0 ? 0.5 : 0.1 * std::abs(lo);
    lo -= half;
    hi += half;
  }
  max_ticks = std::max(max_ticks, 2);
  const double range = hi - lo;
  int k = static_cast<int>(std::floor(std::log10(range / max_ticks))) - 1;
  // Steps m * 10^k with m in tenths (10, 20, 50; 25 as a fallback), so that every tick is an
  // integer times a power of ten: for k < 0 divide by 10^-k, and 3 * 0.2 is 0.6 exactly as
  // written, not 0.6000000000000001.
  const auto count = [&](double step) {
    return std::floor(hi / step + 1e-9) - std::ceil(lo / step - 1e-9) + 1;
  };
  const auto step_of = [](int m10, int e) {
    const double p = std::pow(10.0, std::abs(e));
    return e >= 0 ? m10 * p : m10 / p;
  };
  const auto fill = [&](int m10, int e) {
    const double step = step_of(m10, e);
    const double p = std::pow(10.0, std::abs(e));
    const double i0 = std::ceil(lo / step - 1e-9), i1 = std::floor(hi / step + 1e-9);
    for (double i = i0; i <= i1; i += 1.0) {
      const double v = i == 0.0 ? 0.0 : (e >= 0 ? i * m10 * p : i * m10 / p);
      t.values.push_back(v);
      t.labels.push_back(format_tick(v, step));
    }
  };
  constexpr std::array<int, 3> kMantissas = {10, 20, 50};
  for (int iter = 0; iter < 40; ++iter, ++k) {
    for (const int m10 : kMantissas) {
      const int e = k - 1;
      if (count(step_of(m10, e)) > max_ticks) continue;
      // 1-2-5 can jump from 9 ticks to 3 (a step of 2 to one of 5); 2.5 then gives 4 to 8.
      if (m10 == 50 && count(step_of(50, e)) < std::min(4, max_ticks) &&
          count(step_of(25, e)) <= max_ticks) {
        fill(25, e);
      } else {
        fill(m10, e);
      }
      return t;
    }
  }
  return t;
}

Ticks log_ticks(double lo, double hi) {
  Ticks t;
  if (!(lo > 0.0) || !std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo)) {
    lo = 0.1;
    hi = 10.0;
  }
  const int k0 = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
  const int k1 = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
  const auto decade = [](int k) { return std::pow(10.0, k); };
  const auto label = [&](double v, int k) {
    return (k >= -4 && k <= 6) ? format_tick(v, decade(k)) : format_tick(v, v);
  };
  const int n_decades = k1 - k0 + 1;
  const int every = n_decades > 8 ? (n_decades + 7) / 8 : 1;
  for (int k = k0; k <= k1; ++k) {
    if ((k - k0) % every == 0) {
      t.values.push_back(decade(k));
      t.labels.push_back(label(decade(k), k));
    }
  }
  // Minor ticks 2..9 x 10^k, labelled 2x and 5x when the decades alone are too few to read.
  const int kf = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  const bool label_minor = n_decades < 2;
  for (int k = kf; k <= k1 && n_decades <= 12; ++k) {
    for (int m = 2; m <= 9; ++m) {
      const double v = m * decade(k);
      if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
      if (label_minor && (m == 2 || m == 5)) {
        t.values.push_back(v);
        t.labels.push_back(label(v, k));
      } else {
        t.minor.push_back(v);
      }
    }
  }
  if (t.values.size() < 2) {
    // Less than a factor 2.5 of range: linear ticks still sit in the right places on a log axis.
    Ticks lin = nice_ticks(lo, hi, 5);
    lin.minor = t.minor;
    return lin;
  }
  std::vector<std::size_t> order(t.values.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return t.values[a] < t.values[b]; });
  Ticks sorted;
  sorted.minor = t.minor;
  for (const auto i : order) {
    sorted.values.push_back(t.values[i]);
    sorted.labels.push_back(t.labels[i]);
  }
  return sorted;
}

// ---------------------------------------------------------------------------------------------
// Axes

void Axes::set_xlim(double lo, double hi) {
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi)) {
    throw std::invalid_argument("Axes::set_xlim: need finite lo < hi");
  }
  has_xlim_ = true;
  xlim_[0] = lo;
  xlim_[1] = hi;
}

void Axes::set_ylim(double lo, double hi) {
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi)) {
    throw std::invalid_argument("Axes::set_ylim: need finite lo < hi");
  }
  has_ylim_ = true;
  ylim_[0] = lo;
  ylim_[1] = hi;
}

std::string Axes::next_color() { return std::string(palette_color(next_color_++)); }

namespace {

void check_sizes(std::string_view what, std::size_t n, std::initializer_list<std::size_t> others) {
  for (const auto m : others) {
    if (m != n) {
      throw std::invalid_argument(std::string(what) + ": data of different lengths (" +
                                  std::to_string(n) + " and " + std::to_string(m) + ")");
    }
  }
}

std::vector<double> copy(std::span<const double> s) { return {s.begin(), s.end()}; }

}  // namespace

void Axes::line(std::span<const double> xs, std::span<const double> ys, Style style) {
  check_sizes("Axes::line", xs.size(), {ys.size()});
  if (style.color.empty()) style.color = next_color();
  series_.push_back({Kind::kLine, copy(xs), copy(ys), {}, {}, std::move(style)});
}

void Axes::markers_with_errorbars(std::span<const double> xs, std::span<const double> ys,
                                  std::span<const double> lo, std::span<const double> hi,
                                  Style style) {
  check_sizes("Axes::markers_with_errorbars", xs.size(), {ys.size(), lo.size(), hi.size()});
  if (style.color.empty()) style.color = next_color();
  if (style.marker == Marker::kNone) style.marker = Marker::kCircle;
  series_.push_back({Kind::kMarkers, copy(xs), copy(ys), copy(lo), copy(hi), std::move(style)});
}

void Axes::band(std::span<const double> xs, std::span<const double> lo, std::span<const double> hi,
                Style style) {
  check_sizes("Axes::band", xs.size(), {lo.size(), hi.size()});
  if (style.color.empty()) style.color = next_color();
  series_.push_back({Kind::kBand, copy(xs), {}, copy(lo), copy(hi), std::move(style)});
}

void Axes::cells(std::span<const double> xs, std::span<const double> ys,
                 std::span<const double> shades, double dx, double dy, Style style) {
  check_sizes("Axes::cells", xs.size(), {ys.size(), shades.size()});
  if (style.color.empty()) style.color = next_color();
  series_.push_back({Kind::kCells, copy(xs), copy(ys), copy(shades), {dx, dy}, std::move(style)});
}

void Axes::arrows(std::span<const double> xs, std::span<const double> ys,
                  std::span<const double> us, std::span<const double> vs, Style style) {
  check_sizes("Axes::arrows", xs.size(), {ys.size(), us.size(), vs.size()});
  if (style.color.empty()) style.color = next_color();
  series_.push_back({Kind::kArrows, copy(xs), copy(ys), copy(us), copy(vs), std::move(style)});
}

void Axes::vspan(double x0, double x1, std::string label, std::string color) {
  if (x0 > x1) std::swap(x0, x1);
  spans_.push_back({x0, x1, std::move(label), std::move(color)});
}

void Axes::hline(double y, Style style) {
  if (style.color.empty()) style.color = kReferenceColor;
  ref_lines_.push_back({true, y, std::move(style)});
}

void Axes::vline(double x, Style style) {
  if (style.color.empty()) style.color = kReferenceColor;
  ref_lines_.push_back({false, x, std::move(style)});
}

void Axes::legend_entry(Style style) {
  if (style.color.empty()) style.color = kReferenceColor;
  proxies_.push_back(std::move(style));
}

namespace {

struct Mapping {
  double x0, x1, y0, y1;      // data limits (log10 of them on a log y axis)
  double px0, px1, py0, py1;  // plot area in px; py0 is the bottom
  bool log_y;
  double fx(double x) const { return px0 + (x - x0) / (x1 - x0) * (px1 - px0); }
  double fy(double y) const {
    const double v = log_y ? std::log10(y) : y;
    return py0 + (v - y0) / (y1 - y0) * (py1 - py0);
  }
  bool ok_y(double y) const { return std::isfinite(y) && (!log_y || y > 0.0); }
};

struct Point {
  double x, y;
};

}  // namespace

// The panel's pixel mapping and ticks, and where its data were drawn (for the legend).
struct Axes::Frame {
  Mapping m{};
  Ticks xt, yt;
  double plot_w = 0.0;
  double left = 0.0, top = 0.0, height = 0.0;
  std::vector<Point> occupied;  ///< pixel points of the data
};

namespace {

// Points along a drawn segment, for the legend placement.
void sample_segment(std::vector<Point>& occupied, Point a, Point b) {
  const double len = std::hypot(b.x - a.x, b.y - a.y);
  const int n = std::min(200, static_cast<int>(len / 6.0));
  for (int k = 1; k < n; ++k) {
    const double f = static_cast<double>(k) / n;
    occupied.push_back({a.x + f * (b.x - a.x), a.y + f * (b.y - a.y)});
  }
}

}  // namespace

void Axes::data_limits(double xl[2], double yl[2]) const {
  // Data limits.
  Range xr, yr;
  for (const auto& s : series_) {
    if (s.kind == Kind::kCells || s.kind == Kind::kArrows) {
      // A cell counts with its extent, an arrow with both ends.
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        const bool cell = s.kind == Kind::kCells;
        const double ax = cell ? 0.5 * s.hi[0] : s.lo[i], ay = cell ? 0.5 * s.hi[1] : s.hi[i];
        if (!std::isfinite(ax) || !std::isfinite(ay)) continue;
        xr.add(s.x[i] + ax);
        xr.add(cell ? s.x[i] - ax : s.x[i]);
        yr.add(s.y[i] + ay);
        yr.add(cell ? s.y[i] - ay : s.y[i]);
      }
      continue;
    }
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i])) continue;
      // Only what is drawn counts: a band point needs both bounds, an error bar both ends.
      const auto ok = [&](double v) { return std::isfinite(v) && (!log_y_ || v > 0.0); };
      bool any = false;
      const auto add_y = [&](double v) {
        if (!ok(v)) return;
        yr.add(v);
        any = true;
      };
      if (s.kind != Kind::kBand) add_y(s.y[i]);
      if (s.kind != Kind::kLine && ok(s.lo[i]) && ok(s.hi[i])) {
        add_y(s.lo[i]);
        add_y(s.hi[i]);
      }
      if (any) xr.add(s.x[i]);
    }
  }
  for (const auto& sp : spans_) {
    if (!std::isfinite(sp.x0) || !std::isfinite(sp.x1)) continue;
    xr.add(sp.x0);
    xr.add(sp.x1);
  }
  // Reference lines widen the auto limits only when there is data to put them against.
  const bool had_x = !xr.empty(), had_y = !yr.empty();
  for (const auto& r : ref_lines_) {
    if (r.horizontal && had_y && (!log_y_ || r.at > 0.0)) yr.add(r.at);
    if (!r.horizontal && had_x) xr.add(r.at);
  }
  if (has_xlim_) {
    xl[0] = xlim_[0];
    xl[1] = xlim_[1];
  } else {
    auto_limits(xr, false, xl);
  }
  if (has_ylim_ && (!log_y_ || ylim_[0] > 0.0)) {
    yl[0] = ylim_[0];
    yl[1] = ylim_[1];
  } else {
    auto_limits(yr, log_y_, yl);
  }
}

Axes::Frame Axes::frame(double left, double top, double width, double height) const {
  double xl[2], yl[2];
  data_limits(xl, yl);
  Frame f;
  f.left = left;
  f.top = top;
  f.height = height;
  // Layout: the left margin makes room for the widest y tick label.
  const double title_h = title_.empty() ? 12.0 : 30.0;
  const double bottom_h = xlabel_.empty() ? 28.0 : 46.0;
  const double right_w = 16.0;
  const double plot_h_guess = height - title_h - bottom_h;
  const int max_y_ticks = std::clamp(static_cast<int>(plot_h_guess / 32.0), 3, 8);
  f.yt = log_y_ ? log_ticks(yl[0], yl[1]) : nice_ticks(yl[0], yl[1], max_y_ticks);
  double ytick_w = 0.0;
  for (const auto& l : f.yt.labels) ytick_w = std::max(ytick_w, text_width(l, kTickFont));
  const double left_w =
      8.0 + (ylabel_.empty() ? 0.0 : kLabelFont + 8.0) + ytick_w + kTickLength + 5.0;
  f.m.px0 = left + left_w;
  f.m.px1 = left + width - right_w;
  f.m.py1 = top + title_h;
  f.m.py0 = top + height - bottom_h;
  f.m.x0 = xl[0];
  f.m.x1 = xl[1];
  f.m.log_y = log_y_;
  f.m.y0 = log_y_ ? std::log10(yl[0]) : yl[0];
  f.m.y1 = log_y_ ? std::log10(yl[1]) : yl[1];
  f.plot_w = f.m.px1 - f.m.px0;

  // x ticks: as many as fit with their labels apart.
  f.xt = xticks_;
  for (int max_x = 8; max_x >= 2 && !has_xticks_; --max_x) {
    f.xt = nice_ticks(xl[0], xl[1], max_x);
    double widest = 0.0;
    for (const auto& l : f.xt.labels) widest = std::max(widest, text_width(l, kTickFont));
    if (static_cast<double>(f.xt.values.size()) * (widest + 14.0) <= f.plot_w) break;
  }

  return f;
}

void Axes::append_background(std::string& out, const Frame& f, const std::string& id) const {
  out += "<defs><clipPath id=\"lrnn-clip-" + id + "\"><rect x=\"" + num(f.m.px0) + "\" y=\"" +
         num(f.m.py1) + "\" width=\"" + num(f.plot_w) + "\" height=\"" + num(f.m.py0 - f.m.py1) +
         "\"/></clipPath>";
  // Markers may stick out of the plot area by their size: a point at y = 1 on [0, 1] stays whole.
  constexpr double kMarkerPad = 8.0;
  out += "<clipPath id=\"lrnn-clipm-" + id + "\"><rect x=\"" + num(f.m.px0 - kMarkerPad) +
         "\" y=\"" + num(f.m.py1 - kMarkerPad) + "\" width=\"" + num(f.plot_w + 2 * kMarkerPad) +
         "\" height=\"" + num(f.m.py0 - f.m.py1 + 2 * kMarkerPad) + "\"/></clipPath></defs>\n";

  // Grid.
  out += "<g class=\"grid\" stroke=\"";
  out += kGridColor;
  out += "\" stroke-width=\"1\">\n";
  for (const double v : f.xt.values) {
    const double x = f.m.fx(v);
    out += "<line x1=\"" + num(x) + "\" y1=\"" + num(f.m.py1) + "\" x2=\"" + num(x) + "\" y2=\"" +
           num(f.m.py0) + "\"/>\n";
  }
  for (const double v : f.yt.values) {
    const double y = f.m.fy(v);
    out += "<line x1=\"" + num(f.m.px0) + "\" y1=\"" + num(y) + "\" x2=\"" + num(f.m.px1) +
           "\" y2=\"" + num(y) + "\"/>\n";
  }
  out += "</g>\n";

  // Shaded spans and reference lines sit behind the data.
  for (const auto& sp : spans_) {
    if (!std::isfinite(sp.x0) || !std::isfinite(sp.x1)) continue;
    const double a = std::clamp(f.m.fx(sp.x0), f.m.px0, f.m.px1);
    const double b = std::clamp(f.m.fx(sp.x1), f.m.px0, f.m.px1);
    out += "<g class=\"vspan\" data-label=\"" + xml_escape(sp.label) + "\"><rect x=\"" + num(a) +
           "\" y=\"" + num(f.m.py1) + "\" width=\"" + num(std::max(0.0, b - a)) + "\" height=\"" +
           num(f.m.py0 - f.m.py1) + "\" fill=\"" + xml_escape(sp.color) +
           "\" fill-opacity=\"0.18\"/></g>\n";
  }
  for (const auto& r : ref_lines_) {
    if (!std::isfinite(r.at)) continue;
    if (r.horizontal && !f.m.ok_y(r.at)) continue;
    std::string d;
    if (r.horizontal) {
      const double y = f.m.fy(r.at);
      if (y < f.m.py1 - 0.5 || y > f.m.py0 + 0.5) continue;
      d = "M" + num(f.m.px0) + " " + num(y) + "H" + num(f.m.px1);
    } else {
      const double x = f.m.fx(r.at);
      if (x < f.m.px0 - 0.5 || x > f.m.px1 + 0.5) continue;
      d = "M" + num(x) + " " + num(f.m.py0) + "V" + num(f.m.py1);
    }
    out += "<path class=\"refline\" d=\"" + d + "\"";
    append_stroke(out, r.style, r.style.color);
    out += "/>\n";
  }
}

void Axes::append_line(std::string& out, const Series& s, Frame& f) const {
  const std::string color = xml_escape(s.style.color);
  const std::size_t n = s.x.size();
  std::string d;
  bool pen_down = false;
  Point prev{};
  std::vector<Point> pts;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(s.x[i]) || !f.m.ok_y(s.y[i])) {
      pen_down = false;
      continue;
    }
    const Point p{f.m.fx(s.x[i]), f.m.fy(s.y[i])};
    d += (pen_down ? "L" : "M") + num(p.x) + " " + num(p.y);
    f.occupied.push_back(p);
    if (pen_down) sample_segment(f.occupied, prev, p);
    prev = p;
    pen_down = true;
    pts.push_back(p);
  }
  if (!d.empty()) {
    out += "<path d=\"" + d + "\"";
    append_stroke(out, s.style, s.style.color);
    out += "/>\n";
  }
  if (s.style.marker != Marker::kNone) {
    for (const auto& p : pts) {
      append_marker(out, s.style.marker, p.x, p.y, s.style.marker_size, color, false);
    }
  }
  if (!pts.empty() && s.style.start_marker != Marker::kNone) {
    append_marker(out, s.style.start_marker, pts.front().x, pts.front().y, s.style.marker_size,
                  color, true);
  }
  if (!pts.empty() && s.style.end_marker != Marker::kNone) {
    append_marker(out, s.style.end_marker, pts.back().x, pts.back().y, s.style.marker_size, color,
                  false);
  }
}

void Axes::append_markers(std::string& out, const Series& s, Frame& f) const {
  const std::string color = xml_escape(s.style.color);
  const std::size_t n = s.x.size();
  std::string bars;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(s.x[i])) continue;
    const double x = f.m.fx(s.x[i]);
    if (f.m.ok_y(s.lo[i]) && f.m.ok_y(s.hi[i])) {
      const double a = f.m.fy(s.lo[i]), b = f.m.fy(s.hi[i]);
      const double cap = 0.75 * s.style.marker_size;
      bars += "M" + num(x) + " " + num(a) + "V" + num(b) + "M" + num(x - cap) + " " + num(a) + "H" +
              num(x + cap) + "M" + num(x - cap) + " " + num(b) + "H" + num(x + cap);
      f.occupied.push_back({x, a});
      f.occupied.push_back({x, b});
    }
  }
  if (!bars.empty()) {
    out +=
        "<path d=\"" + bars + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.2\"/>\n";
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(s.x[i]) || !f.m.ok_y(s.y[i])) continue;
    const Point p{f.m.fx(s.x[i]), f.m.fy(s.y[i])};
    f.occupied.push_back(p);
    append_marker(out, s.style.marker, p.x, p.y, s.style.marker_size, color, false);
  }
}

void Axes::append_band(std::string& out, const Series& s, Frame& f) const {
  const std::string color = xml_escape(s.style.color);
  const std::size_t n = s.x.size();
  // One polygon per run of finite points: forward along hi, back along lo.
  std::size_t i = 0;
  while (i < n) {
    const auto good = [&](std::size_t j) {
      return std::isfinite(s.x[j]) && f.m.ok_y(s.lo[j]) && f.m.ok_y(s.hi[j]);
    };
    while (i < n && !good(i)) ++i;
    std::size_t j = i;
    while (j < n && good(j)) ++j;
    if (j > i) {
      std::string d;
      for (std::size_t k = i; k < j; ++k) {
        const Point p{f.m.fx(s.x[k]), f.m.fy(s.hi[k])};
        d += (k == i ? "M" : "L") + num(p.x) + " " + num(p.y);
        f.occupied.push_back(p);
        f.occupied.push_back({p.x, 0.5 * (p.y + f.m.fy(s.lo[k]))});
      }
      for (std::size_t k = j; k-- > i;) {
        const Point p{f.m.fx(s.x[k]), f.m.fy(s.lo[k])};
        d += "L" + num(p.x) + " " + num(p.y);
        f.occupied.push_back(p);
      }
      out += "<path d=\"" + d + "Z\" fill=\"" + color + "\" fill-opacity=\"" +
             num(std::clamp(s.style.fill_opacity, 0.0, 1.0)) + "\" stroke=\"none\"/>\n";
    }
    i = j;
  }
}

void Axes::append_cells(std::string& out, const Series& s, const Frame& f) const {
  const std::string color = xml_escape(s.style.color);
  const auto& m = f.m;
  const double w = std::abs(m.fx(s.hi[0]) - m.fx(0.0)), h = std::abs(m.fy(s.hi[1]) - m.fy(0.0));
  // Cells tile exactly, drawn without anti-aliasing: no seams, no darker overlaps.
  out += "<g shape-rendering=\"crispEdges\">\n";
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || !std::isfinite(s.lo[i])) continue;
    out += "<rect x=\"" + num(m.fx(s.x[i]) - 0.5 * w) + "\" y=\"" + num(m.fy(s.y[i]) - 0.5 * h) +
           "\" width=\"" + num(w) + "\" height=\"" + num(h) + "\" fill=\"" + color +
           "\" fill-opacity=\"" + num(std::clamp(s.lo[i], 0.0, 1.0)) + "\"/>\n";
  }
  out += "</g>\n";
}

void Axes::append_arrows(std::string& out, const Series& s, const Frame& f) const {
  const auto& m = f.m;
  std::string d;
  const double head = s.style.marker_size;
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    const double x0 = m.fx(s.x[i]), y0 = m.fy(s.y[i]);
    const double x1 = m.fx(s.x[i] + s.lo[i]), y1 = m.fy(s.y[i] + s.hi[i]);
    if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) {
      continue;
    }
    const double len = std::hypot(x1 - x0, y1 - y0);
    if (len < 1e-9) continue;
    const double ux = (x1 - x0) / len, uy = (y1 - y0) / len;
    // Two barbs at ±25 degrees from the shaft, pointing back.
    constexpr double kCos = 0.9063, kSin = 0.4226;
    const double h = std::min(head, 0.6 * len);
    d += "M" + num(x0) + " " + num(y0) + "L" + num(x1) + " " + num(y1);
    d += "M" + num(x1 - h * (kCos * ux - kSin * uy)) + " " + num(y1 - h * (kSin * ux + kCos * uy)) +
         "L" + num(x1) + " " + num(y1) + "L" + num(x1 - h * (kCos * ux + kSin * uy)) + " " +
         num(y1 - h * (-kSin * ux + kCos * uy));
  }
  if (!d.empty()) {
    out += "<path d=\"" + d + "\"";
    append_stroke(out, s.style, s.style.color);
    out += "/>\n";
  }
}

void Axes::append_series(std::string& out, Frame& f, const std::string& id) const {
  for (const auto& s : series_) {
    const bool markers = s.kind == Kind::kMarkers;
    out += "<g class=\"series\" data-label=\"" + xml_escape(s.style.label) +
           "\" clip-path=\"url(#" +
           (markers || s.style.marker != Marker::kNone || s.style.start_marker != Marker::kNone ||
                    s.style.end_marker != Marker::kNone
                ? "lrnn-clipm-"
                : "lrnn-clip-") +
           id + ")\">\n";
    if (s.kind == Kind::kCells) {
      append_cells(out, s, f);
    } else if (s.kind == Kind::kArrows) {
      append_arrows(out, s, f);
    } else if (s.kind == Kind::kLine) {
      append_line(out, s, f);
    } else if (s.kind == Kind::kMarkers) {
      append_markers(out, s, f);
    } else {
      append_band(out, s, f);
    }
    out += "</g>\n";
  }
}

void Axes::append_axis(std::string& out, const Frame& f) const {
  // Axis lines, ticks and tick labels.
  out += "<g class=\"axis\" stroke=\"";
  out += kAxisColor;
  out += "\" stroke-width=\"1\" fill=\"none\">\n";
  out += "<path d=\"M" + num(f.m.px0) + " " + num(f.m.py1) + "V" + num(f.m.py0) + "H" +
         num(f.m.px1) + "\"/>\n";
  std::string tick_path;
  for (const double v : f.xt.values) {
    tick_path += "M" + num(f.m.fx(v)) + " " + num(f.m.py0) + "v" + num(kTickLength);
  }
  for (const double v : f.yt.values) {
    tick_path += "M" + num(f.m.px0) + " " + num(f.m.fy(v)) + "h" + num(-kTickLength);
  }
  for (const double v : f.yt.minor) {
    tick_path += "M" + num(f.m.px0) + " " + num(f.m.fy(v)) + "h" + num(-0.6 * kTickLength);
  }
  if (!tick_path.empty()) out += "<path d=\"" + tick_path + "\"/>\n";
  out += "</g>\n";
  out += "<g fill=\"";
  out += kTextColor;
  out += "\">\n";
  for (std::size_t i = 0; i < f.xt.values.size(); ++i) {
    append_text(out, f.m.fx(f.xt.values[i]), f.m.py0 + kTickLength + 3.0 + kTickFont,
                f.xt.labels[i], kTickFont, "middle", "xtick");
  }
  for (std::size_t i = 0; i < f.yt.values.size(); ++i) {
    append_text(out, f.m.px0 - kTickLength - 3.0, f.m.fy(f.yt.values[i]) + 0.36 * kTickFont,
                f.yt.labels[i], kTickFont, "end", "ytick");
  }
  if (!xlabel_.empty()) {
    append_text(out, 0.5 * (f.m.px0 + f.m.px1), f.top + f.height - 10.0, xlabel_, kLabelFont,
                "middle", "xlabel");
  }
  if (!ylabel_.empty()) {
    const double x = f.left + 8.0 + kLabelFont - 2.0;
    const double y = 0.5 * (f.m.py0 + f.m.py1);
    append_text(out, x, y, ylabel_, kLabelFont, "middle", "ylabel",
                " transform=\"rotate(-90 " + num(x) + " " + num(y) + ")\"");
  }
  if (!title_.empty()) {
    append_text(out, 0.5 * (f.m.px0 + f.m.px1), f.top + 20.0, title_, kTitleFont, "middle", "title",
                " font-weight=\"bold\"");
  }
  out += "</g>\n";
}

// The legend box, where legend_ says or (kBest) where it covers the fewest drawn points.
void Axes::append_legend(std::string& out, const Frame& f) const {
  const std::vector<LegendEntry> items = legend_entries();
  if (legend_ == LegendPosition::kNone || items.empty()) return;
  constexpr double kPad = 7.0, kInset = 8.0;
  double text_w = 0.0;
  for (const auto& it : items) text_w = std::max(text_w, text_width(it.style.label, kLegendFont));
  const double box_w = kPad + kLegendSample + 6.0 + text_w + kPad;
  const double box_h = 2 * kPad + kLegendRow * static_cast<double>(items.size()) - 3.0;
  // matplotlib's candidates for loc="best", in its order of preference.
  constexpr std::array<LegendPosition, 9> kCandidates = {
      LegendPosition::kUpperRight,  LegendPosition::kUpperLeft,   LegendPosition::kLowerLeft,
      LegendPosition::kLowerRight,  LegendPosition::kCenterRight, LegendPosition::kCenterLeft,
      LegendPosition::kLowerCenter, LegendPosition::kUpperCenter, LegendPosition::kCenter};
  const auto box_xy = [&](LegendPosition p) {
    using P = LegendPosition;
    const bool right = p == P::kUpperRight || p == P::kLowerRight || p == P::kCenterRight;
    const bool on_left = p == P::kUpperLeft || p == P::kLowerLeft || p == P::kCenterLeft;
    const bool upper = p == P::kUpperRight || p == P::kUpperLeft || p == P::kUpperCenter;
    const bool lower = p == P::kLowerRight || p == P::kLowerLeft || p == P::kLowerCenter;
    const double x = right     ? f.m.px1 - kInset - box_w
                     : on_left ? f.m.px0 + kInset
                               : 0.5 * (f.m.px0 + f.m.px1 - box_w);
    const double y = upper   ? f.m.py1 + kInset
                     : lower ? f.m.py0 - kInset - box_h
                             : 0.5 * (f.m.py0 + f.m.py1 - box_h);
    return Point{x, y};
  };
  LegendPosition where = legend_;
  if (where == LegendPosition::kBest) {
    std::size_t best = std::numeric_limits<std::size_t>::max();
    for (const auto c : kCandidates) {
      const Point o = box_xy(c);
      std::size_t hits = 0;
      for (const auto& p : f.occupied) {
        if (p.x >= o.x - 3 && p.x <= o.x + box_w + 3 && p.y >= o.y - 3 && p.y <= o.y + box_h + 3) {
          ++hits;
        }
      }
      if (hits < best) {
        best = hits;
        where = c;
      }
    }
  }
  const Point o = box_xy(where);
  out += "<g class=\"legend\">\n<rect x=\"" + num(o.x) + "\" y=\"" + num(o.y) + "\" width=\"" +
         num(box_w) + "\" height=\"" + num(box_h) +
         "\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.88\" stroke=\"#cccccc\"/>\n";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const double cy = o.y + kPad + kLegendRow * static_cast<double>(i) + 0.5 * (kLegendRow - 3.0);
    append_legend_entry(out, items[i], o.x + kPad, cy);
  }
  out += "</g>\n";
}

void Axes::render(std::string& out, double left, double top, double width, double height,
                  int index) const {
  Frame f = frame(left, top, width, height);
  const std::string id = std::to_string(index);
  out += "<g class=\"axes\" data-index=\"" + id + "\">\n";
  append_background(out, f, id);
  // Data series. Pixel points are kept for the legend placement.
  append_series(out, f, id);
  append_axis(out, f);
  append_legend(out, f);
  out += "</g>\n";
}

std::vector<Axes::LegendEntry> Axes::legend_entries() const {
  std::vector<LegendEntry> items;
  for (const auto& s : series_) {
    if (s.style.label.empty() || !s.style.in_legend) continue;
    const auto kind = s.kind == Kind::kLine || s.kind == Kind::kArrows ? LegendEntry::Sample::kLine
                      : s.kind == Kind::kMarkers ? LegendEntry::Sample::kMarkers
                                                 : LegendEntry::Sample::kPatch;
    items.push_back({kind, s.style, s.style.fill_opacity});
  }
  for (const auto& sp : spans_) {
    if (sp.label.empty() || !std::isfinite(sp.x0) || !std::isfinite(sp.x1)) continue;
    Style st;
    st.color = sp.color;
    st.label = sp.label;
    items.push_back({LegendEntry::Sample::kPatch, st, 0.3});
  }
  for (const auto& p : proxies_) items.push_back({LegendEntry::Sample::kLine, p, p.fill_opacity});
  return items;
}

double Axes::legend_entry_width(const LegendEntry& e) {
  return kLegendSample + 6.0 + text_width(e.style.label, kLegendFont);
}

void Axes::append_legend_entry(std::string& out, const LegendEntry& it, double x, double cy) {
  const double sx0 = x, sx1 = sx0 + kLegendSample, sxm = 0.5 * (sx0 + sx1);
  const std::string color = xml_escape(it.style.color);
  switch (it.sample) {
    case LegendEntry::Sample::kLine: {
      if (it.style.width > 0.0) {
        Style st = it.style;
        st.opacity = std::max(st.opacity, 0.6);
        st.width = std::max(st.width, 1.5);
        out += "<path d=\"M" + num(sx0) + " " + num(cy) + "H" + num(sx1) + "\"";
        append_stroke(out, st, st.color);
        out += "/>\n";
      }
      // A data line shows its every-point marker; start and end markers belong to the
      // trajectory, not to the legend, unless the entry is a marker-only proxy.
      Marker mk = it.style.marker;
      bool hollow = false;
      if (mk == Marker::kNone && it.style.width <= 0.0) {
        hollow = it.style.start_marker != Marker::kNone;
        mk = hollow ? it.style.start_marker : it.style.end_marker;
      }
      append_marker(out, mk, sxm, cy, std::min(it.style.marker_size, 5.0), color, hollow);
      break;
    }
    case LegendEntry::Sample::kMarkers:
      out += "<path d=\"M" + num(sxm) + " " + num(cy - 6) + "V" + num(cy + 6) + "\" stroke=\"" +
             color + "\" stroke-width=\"1.2\"/>\n";
      append_marker(out, it.style.marker, sxm, cy, std::min(it.style.marker_size, 5.0), color,
                    false);
      break;
    case LegendEntry::Sample::kPatch:
      out += "<rect x=\"" + num(sx0) + "\" y=\"" + num(cy - 5) + "\" width=\"" +
             num(kLegendSample) + "\" height=\"10\" fill=\"" + color + "\" fill-opacity=\"" +
             num(std::clamp(std::max(it.patch_opacity, 0.25), 0.0, 1.0)) + "\"/>\n";
      break;
  }
  append_text(out, sx1 + 6.0, cy + 0.36 * kLegendFont, it.style.label, kLegendFont, "start", {},
              " fill=\"" + std::string(kTextColor) + "\"");
}

// ---------------------------------------------------------------------------------------------
// SvgFigure

SvgFigure::SvgFigure(int rows, int cols, double panel_width_px, double panel_height_px,
                     std::string title)
    : rows_(rows),
      cols_(cols),
      panel_width_(panel_width_px),
      panel_height_(panel_height_px),
      title_(std::move(title)) {
  if (rows < 1 || cols < 1 || !(panel_width_px >= 80.0) || !(panel_height_px >= 80.0) ||
      !std::isfinite(panel_width_px) || !std::isfinite(panel_height_px)) {
    throw std::invalid_argument("SvgFigure: need rows, cols >= 1 and panels of at least 80 px");
  }
  axes_.resize(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
  for (auto& a : axes_) a.legend_ = LegendPosition::kNone;
}

Axes& SvgFigure::axes(int row, int col) {
  return const_cast<Axes&>(static_cast<const SvgFigure&>(*this).axes(row, col));
}

const Axes& SvgFigure::axes(int row, int col) const {
  if (row < 0 || row >= rows_ || col < 0 || col >= cols_) {
    throw std::out_of_range("SvgFigure::axes(" + std::to_string(row) + ", " + std::to_string(col) +
                            "): the figure has " + std::to_string(rows_) + " x " +
                            std::to_string(cols_) + " panels");
  }
  return axes_[static_cast<std::size_t>(row) * static_cast<std::size_t>(cols_) +
               static_cast<std::size_t>(col)];
}

void SvgFigure::legend(int row, int col) {
  (void)axes(row, col);  // range check
  legend_row_ = row;
  legend_col_ = col;
}

std::string SvgFigure::str() const {
  const double title_h = title_.empty() ? 0.0 : kFigureTitleHeight;
  const double w = std::ceil(panel_width_ * cols_);

  // The figure legend: entries in rows that fit the width, each row centred.
  constexpr double kGap = 22.0, kSide = 20.0;
  std::vector<Axes::LegendEntry> entries;
  if (legend_row_ >= 0) entries = axes(legend_row_, legend_col_).legend_entries();
  std::vector<std::vector<std::size_t>> rows;
  std::vector<double> row_w;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double ew = Axes::legend_entry_width(entries[i]);
    if (rows.empty() || row_w.back() + kGap + ew > w - 2 * kSide) {
      rows.emplace_back();
      row_w.push_back(-kGap);
    }
    rows.back().push_back(i);
    row_w.back() += kGap + ew;
  }
  const double legend_h = rows.empty() ? 0.0 : 10.0 + kLegendRow * static_cast<double>(rows.size());
  const double h = std::ceil(panel_height_ * rows_ + title_h + legend_h);

  std::string out;
  out.reserve(1 << 16);
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + num(w) +
         "\" height=\"" + num(h) + "\" viewBox=\"0 0 " + num(w) + " " + num(h) +
         "\" font-family=\"sans-serif\">\n";
  if (!title_.empty()) out += "<title>" + xml_escape(title_) + "</title>\n";
  out += "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" + num(w) + "\" height=\"" + num(h) +
         "\" fill=\"#ffffff\"/>\n";
  if (!title_.empty()) {
    out += "<g fill=\"";
    out += kTextColor;
    out += "\">\n";
    append_text(out, 0.5 * w, 21.0, title_, kFigureTitleFont, "middle", "figure-title",
                " font-weight=\"bold\"");
    out += "</g>\n";
  }
  for (int r = 0; r < rows_; ++r) {
    for (int c = 0; c < cols_; ++c) {
      axes(r, c).render(out, panel_width_ * c, title_h + panel_height_ * r, panel_width_,
                        panel_height_, r * cols_ + c);
    }
  }
  if (!rows.empty()) {
    out += "<g class=\"legend\">\n";
    const double top = title_h + panel_height_ * rows_;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      double x = 0.5 * (w - row_w[r]);
      const double cy = top + 2.0 + kLegendRow * (static_cast<double>(r) + 0.5);
      for (const auto i : rows[r]) {
        Axes::append_legend_entry(out, entries[i], x, cy);
        x += Axes::legend_entry_width(entries[i]) + kGap;
      }
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

void SvgFigure::save(const std::string& path) const {
  const std::string text = str();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw IoError(path + ": cannot write the figure: " + std::strerror(errno));
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw IoError(path + ": cannot write the figure (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw IoError(path + ": cannot write the figure: " + why);
  }
}

}  // namespace lrnn
