// A small plotting library that writes standalone SVG, in the spirit of matplotlib's Figure/Axes,
// for the figures of lrnn-eval. No dependencies: the SVG opens in any browser and in Inkscape.
//
//   SvgFigure fig(1, 2, 400, 300, "Readout");
//   Axes& ax = fig.axes(0, 0);
//   Style mean;
//   mean.color = "#0072B2";
//   mean.label = "mean";
//   ax.line(t, y, mean);
//   ax.set_xlabel("time (τ)");
//   ax.legend();
//   fig.save("readout.svg");
//
// Every data series (line, markers, band) is one `<g class="series" data-label="...">`, so a test
// or a script can count and find them; decorations (grid, spans, reference lines, legend) are not.
// Non-finite points are skipped: a line is broken there and no "nan" is ever written.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lrnn {

/// Colour i (wrapping) of the default cycle: the Okabe–Ito colour-blind-safe palette (Okabe & Ito
/// 2008, "Color Universal Design"), ordered blue, vermillion, bluish green, orange, reddish purple,
/// sky blue, black, yellow (last: it is faint on white).
std::string_view palette_color(int i);

enum class LineStyle { kSolid, kDashed, kDotted };
enum class Marker { kNone, kCircle, kSquare, kTriangle, kDiamond };

/// How a series or a reference line is drawn. Fields not used by a kind of series are ignored.
struct Style {
  std::string color;                    ///< CSS colour; empty: the next colour of the axes' cycle
  double width = 1.8;                   ///< line width, px
  LineStyle dash = LineStyle::kSolid;   ///< line pattern
  Marker marker = Marker::kNone;        ///< drawn at every point (line, markers_with_errorbars)
  Marker start_marker = Marker::kNone;  ///< line: drawn hollow at the first finite point only
  Marker end_marker = Marker::kNone;    ///< line: drawn filled at the last finite point only
  double marker_size = 4.0;             ///< marker radius, px
  double opacity = 1.0;                 ///< stroke opacity of lines, 0..1
  double fill_opacity = 0.22;           ///< band fill opacity, 0..1
  std::string label;                    ///< legend text and data-label; empty: not in the legend
  bool in_legend = true;                ///< false: keep the label as data-label, not in the legend
};

/// Where a panel's legend goes inside the plot area; kBest tries the others in matplotlib's order
/// and takes the first that covers the fewest data points.
enum class LegendPosition {
  kBest,
  kUpperRight,
  kUpperLeft,
  kLowerLeft,
  kLowerRight,
  kCenterRight,
  kCenterLeft,
  kLowerCenter,
  kUpperCenter,
  kCenter,
  kNone
};

/// Tick positions and their labels.
struct Ticks {
  std::vector<double> values;       ///< labelled ticks, increasing
  std::vector<std::string> labels;  ///< one per value
  std::vector<double> minor;        ///< unlabelled ticks (log axes: 2..9 times each decade)
};

/// Ticks at the multiples of a 1-2-5 step (1, 2, 5, 10, 20, ...) inside [lo, hi]: the smallest
/// step that gives at most `max_ticks` ticks; 4 to 8 ticks for max_ticks = 8 (where a step of 5
/// would give only 3, 2.5 is used, as matplotlib does). lo == hi or non-finite bounds give a
/// sensible fallback, never an empty or endless list.
Ticks nice_ticks(double lo, double hi, int max_ticks = 8);

/// Ticks for a log axis on [lo, hi], 0 < lo < hi: the decades 10^k inside; 2 and 5 times the
/// decades too when fewer than two decades fall inside; every other decade when more than eight.
Ticks log_ticks(double lo, double hi);

/// `v` printed with the decimals that a tick step `step` needs and no more: 0.1 (not
/// 0.10000000000000001), 0.25 with step 0.05 prints as 0.25, -0 prints as 0, 1 with step 0.2 as 1.
std::string format_tick(double v, double step);

/// Escapes &, <, >, " and ' for XML text and attribute values; control characters become spaces.
std::string xml_escape(std::string_view s);

/// One panel: data series, decorations and labels, drawn when its figure renders.
class Axes {
 public:
  void set_title(std::string title) { title_ = std::move(title); }
  void set_xlabel(std::string label) { xlabel_ = std::move(label); }
  void set_ylabel(std::string label) { ylabel_ = std::move(label); }
  /// Fixed limits; without them the limits follow the data with a 5% margin ([0, 1] if no data).
  void set_xlim(double lo, double hi);
  void set_ylim(double lo, double hi);
  /// Log y axis: points with y <= 0 are skipped like non-finite ones, and y limits that are not
  /// both positive are replaced by automatic ones.
  void set_log_y(bool on = true) { log_y_ = on; }
  /// Fixed x ticks instead of the automatic ones, e.g. labelled categories at 0, 1, 2.
  void set_xticks(Ticks ticks) {
    xticks_ = std::move(ticks);
    has_xticks_ = true;
  }
  /// Shows the legend of the labelled series, spans and legend entries (none by default).
  void legend(LegendPosition position = LegendPosition::kBest) { legend_ = position; }

  /// A polyline through (xs[i], ys[i]), broken at non-finite points.
  void line(std::span<const double> xs, std::span<const double> ys, Style style = {});
  /// A marker at each (xs[i], ys[i]) with a vertical error bar from lo[i] to hi[i] (absolute
  /// values, not offsets; a non-finite bound drops the bar, not the marker). Default marker circle.
  void markers_with_errorbars(std::span<const double> xs, std::span<const double> ys,
                              std::span<const double> lo, std::span<const double> hi,
                              Style style = {});
  /// The region between lo(x) and hi(x), filled translucent (matplotlib's fill_between).
  void band(std::span<const double> xs, std::span<const double> lo, std::span<const double> hi,
            Style style = {});
  /// Rectangles of size dx x dy centred at (xs[i], ys[i]), filled with the style's colour at
  /// opacity shades[i] (clamped to 0..1): a shaded grid (matplotlib's pcolormesh), drawn behind
  /// the series added after it. Non-finite shades are not drawn.
  void cells(std::span<const double> xs, std::span<const double> ys, std::span<const double> shades,
             double dx, double dy, Style style = {});
  /// Arrows from (xs[i], ys[i]) to (xs[i] + us[i], ys[i] + vs[i]) in data units, each with a
  /// head of style.marker_size px (matplotlib's quiver with scale 1).
  void arrows(std::span<const double> xs, std::span<const double> ys, std::span<const double> us,
              std::span<const double> vs, Style style = {});
  /// A shaded interval x0 <= x <= x1 over the full height (axvspan), e.g. the loss window; a
  /// non-empty label puts it in the legend.
  void vspan(double x0, double x1, std::string label = {}, std::string color = "#9a9a9a");
  /// Reference lines across the whole panel; an empty colour is grey (not the series cycle).
  void hline(double y, Style style = {});
  void vline(double x, Style style = {});
  /// A legend entry with no data behind it (matplotlib's proxy artist), e.g. "logistic fit": a
  /// line sample (none if width <= 0) with the style's marker, start marker or end marker.
  void legend_entry(Style style);

  /// The colour the next series without one will take; advances the cycle.
  std::string next_color();

  std::size_t n_series() const { return series_.size(); }

 private:
  friend class SvgFigure;
  enum class Kind { kLine, kMarkers, kBand, kCells, kArrows };
  // kCells: lo = shades, hi = {dx, dy}; kArrows: lo = us, hi = vs.
  struct Series {
    Kind kind;
    std::vector<double> x, y, lo, hi;
    Style style;
  };
  struct Span {
    double x0, x1;
    std::string label, color;
  };
  struct RefLine {
    bool horizontal;
    double at;
    Style style;
  };

  struct LegendEntry {
    enum class Sample { kLine, kMarkers, kPatch } sample;
    Style style;
    double patch_opacity;
  };
  std::vector<LegendEntry> legend_entries() const;
  static double legend_entry_width(const LegendEntry& entry);
  static void append_legend_entry(std::string& out, const LegendEntry& entry, double x,
                                  double center_y);
  void render(std::string& out, double left, double top, double width, double height,
              int index) const;
  // The phases of render(), in drawing order.
  struct Frame;  ///< the panel's pixel mapping and ticks (svg_plot.cpp)
  void data_limits(double xl[2], double yl[2]) const;
  Frame frame(double left, double top, double width, double height) const;
  void append_background(std::string& out, const Frame& f, const std::string& id) const;
  void append_series(std::string& out, Frame& f, const std::string& id) const;
  void append_line(std::string& out, const Series& s, Frame& f) const;
  void append_markers(std::string& out, const Series& s, Frame& f) const;
  void append_band(std::string& out, const Series& s, Frame& f) const;
  void append_cells(std::string& out, const Series& s, const Frame& f) const;
  void append_arrows(std::string& out, const Series& s, const Frame& f) const;
  void append_axis(std::string& out, const Frame& f) const;
  void append_legend(std::string& out, const Frame& f) const;

  std::string title_, xlabel_, ylabel_;
  bool has_xlim_ = false, has_ylim_ = false, log_y_ = false, has_xticks_ = false;
  Ticks xticks_;
  double xlim_[2] = {0.0, 1.0}, ylim_[2] = {0.0, 1.0};
  LegendPosition legend_ = LegendPosition::kNone;
  std::vector<Series> series_;
  std::vector<Span> spans_;
  std::vector<RefLine> ref_lines_;
  std::vector<Style> proxies_;
  int next_color_ = 0;
};

/// A grid of rows x cols panels of panel_width_px x panel_height_px each (margins, tick labels and
/// axis labels included), under an optional title.
class SvgFigure {
 public:
  SvgFigure(int rows, int cols, double panel_width_px, double panel_height_px,
            std::string title = {});

  /// Panel (row, col), 0-based; throws std::out_of_range outside the grid.
  Axes& axes(int row, int col);
  const Axes& axes(int row, int col) const;
  int rows() const { return rows_; }
  int cols() const { return cols_; }

  /// A legend for the whole figure, under the panels (matplotlib's fig.legend), with the entries
  /// of panel (row, col): for panels that share their series, so that no legend covers data.
  void legend(int row, int col);

  /// The SVG document.
  std::string str() const;
  /// Writes str() to path + ".tmp" and renames it over path, so a reader never sees half a file.
  /// Throws IoError naming the file on failure.
  void save(const std::string& path) const;

 private:
  int rows_, cols_;
  double panel_width_, panel_height_;
  std::string title_;
  std::vector<Axes> axes_;
  int legend_row_ = -1, legend_col_ = -1;  ///< source of the figure legend; -1: none
};

}  // namespace lrnn
