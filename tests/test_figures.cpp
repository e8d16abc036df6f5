// The SVG plotting layer and the figures of lrnn-eval: every figure is well-formed XML with the
// expected series per panel, no NaN/Inf text, and readable ticks; metrics.jsonl is read strictly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "lrnn/analysis/psychometric.hpp"
#include "lrnn/analysis/traces.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/report/figures.hpp"
#include "lrnn/report/svg_plot.hpp"
#include "support/xml.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;
using test::check_xml;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------------
// Helpers

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("lrnn_test_figures_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

/// Nodes of the SVG (or panel) text that the XPath expression selects.
std::size_t count(const std::string& xml, const std::string& xpath) {
  return test::count_nodes(xml, xpath);
}

/// String values of the nodes the XPath expression selects (attribute values, element texts).
std::vector<std::string> strings(const std::string& xml, const std::string& xpath) {
  return test::XmlDoc(xml).strings(xpath);
}

/// Whether some text of the figure (a label, the title) holds `text`.
bool has_text(const std::string& xml, const std::string& text) {
  for (const std::string& t : strings(xml, "//text()")) {
    if (t.find(text) != std::string::npos) return true;
  }
  return false;
}

Style named(std::string label) {
  Style s;
  s.label = std::move(label);
  return s;
}

constexpr const char* kSeries = "//g[@class='series']";

// Each panel (<g class="axes" ...>) as a document of its own, in order.
std::vector<std::string> panels(const std::string& svg) {
  return test::XmlDoc(svg).elements("//g[@class='axes']");
}

std::vector<std::size_t> series_per_panel(const std::string& svg) {
  std::vector<std::size_t> n;
  for (const auto& p : panels(svg)) n.push_back(count(p, kSeries));
  return n;
}

// Tick labels of class "xtick" or "ytick" in `text`.
std::vector<std::string> tick_labels(const std::string& text, const std::string& cls) {
  return strings(text, "//text[@class='" + cls + "']");
}

std::vector<std::string> data_labels(const std::string& text) {
  return strings(text, "//g[@class='series']/@data-label");
}

// The d attribute of the first path of the series labelled `label` (no ' in labels).
std::string series_path(const std::string& text, const std::string& label) {
  const auto d = strings(text, "//g[@class='series'][@data-label='" + label + "']/path[1]/@d");
  return d.empty() ? std::string() : d.front();
}

// The vertices (px) of the first path of the series labelled `label` in `text`.
std::vector<std::pair<double, double>> path_points(const std::string& text,
                                                   const std::string& label) {
  std::vector<std::pair<double, double>> pts;
  const std::regex pt("[ML](-?[0-9.]+) (-?[0-9.]+)");
  const std::string d = series_path(text, label);
  for (auto it = std::sregex_iterator(d.begin(), d.end(), pt); it != std::sregex_iterator(); ++it) {
    pts.emplace_back(std::stod((*it)[1].str()), std::stod((*it)[2].str()));
  }
  return pts;
}

// No number in the file is NaN or infinite: the words must not appear at all (our labels avoid
// them, so any hit is a number written badly).
void expect_no_nonfinite_text(const std::string& svg) {
  std::string lower = svg;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  EXPECT_EQ(lower.find("nan"), std::string::npos);
  EXPECT_EQ(lower.find("inf"), std::string::npos);
}

void expect_valid_svg(const std::string& svg) {
  const auto r = check_xml(svg);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.root, "svg");
  const std::vector<std::string> view_box = strings(svg, "/svg/@viewBox");
  ASSERT_EQ(view_box.size(), 1u);
  EXPECT_EQ(view_box[0].rfind("0 0 ", 0), 0u) << view_box[0];
  EXPECT_EQ(count(svg, "/svg/rect[@class='background']"), 1u);
  EXPECT_EQ(strings(svg, "/svg/@font-family"), std::vector<std::string>{"sans-serif"});
  expect_no_nonfinite_text(svg);
}

// Synthetic traces with known conditions: `per_condition` trials for each context (1, 2) and each
// pair of stimulus signs; the readout goes to the relevant sign, κ_r to the sign of stimulus r.
TrialTraces make_traces(int per_condition, int rank, bool with_context = true) {
  constexpr int kObs = 100;
  const int n = 8 * per_condition;
  TrialTraces tr;
  tr.t.resize(kObs);
  for (int k = 0; k < kObs; ++k) tr.t[k] = k + 1.0;
  tr.window_start = 90.0;
  tr.window_end = 100.0;
  tr.y.resize(n, kObs);
  tr.kappa.assign(static_cast<std::size_t>(rank), MatX<double>(n, kObs));
  tr.y_bar.resize(n);
  tr.target.resize(n);
  tr.context.resize(static_cast<std::size_t>(n));
  tr.coherence.resize(n, 2);
  int i = 0;
  for (const int ctx : {1, 2}) {
    for (const int s1 : {1, -1}) {
      for (const int s2 : {1, -1}) {
        for (int r = 0; r < per_condition; ++r, ++i) {
          const int target = ctx == 1 ? s1 : s2;
          tr.context[static_cast<std::size_t>(i)] = with_context ? ctx : 0;
          tr.coherence(i, 0) = with_context ? 0.4 * s1 : 0.0;
          tr.coherence(i, 1) = with_context ? 0.4 * s2 : 0.0;
          tr.target[i] = target;
          for (int k = 0; k < kObs; ++k) {
            const double t = tr.t[k];
            const double jitter = 0.05 * std::sin(0.3 * t + r);
            tr.y(i, k) = t < 15 ? jitter : target * (1 - std::exp(-(t - 15) / 15)) + jitter;
            for (int q = 0; q < rank; ++q) {
              const double sign = q == 0 ? s1 : q == 1 ? s2 : 1.0;
              tr.kappa[static_cast<std::size_t>(q)](i, k) =
                  sign * std::tanh(t / 30.0) * (1.0 + 0.2 * ctx) + 0.3 * ctx * std::tanh(t / 50) +
                  0.02 * std::cos(t + r);
            }
          }
          tr.y_bar[i] = tr.y.row(i).tail(10).mean();
        }
      }
    }
  }
  return tr;
}

std::vector<PsychometricCurve> make_curves() {
  std::vector<PsychometricCurve> curves;
  const std::vector<double> coh = {-0.4, -0.2, -0.1, 0.1, 0.2, 0.4};
  for (const int ctx : {1, 2}) {
    for (const int stim : {1, 2}) {
      PsychometricCurve c;
      c.context = ctx;
      c.stimulus = stim;
      c.relevant = ctx == stim;
      c.slope = c.relevant ? 12.0 : 0.3;
      c.bias = 0.1;
      for (const double x : coh) {
        const double p = 1.0 / (1.0 + std::exp(-(c.bias + c.slope * x)));
        c.points.push_back({x, 50, std::round(p * 50) / 50});
      }
      curves.push_back(c);
    }
  }
  return curves;
}

TrainingCurves make_training_curves() {
  TrainingCurves c;
  for (int s = 1; s <= 300; ++s) {
    c.step.push_back(s);
    // From 1 down to about 0.003: the log axis has the decades 0.01, 0.1 and 1.
    c.loss.push_back(s == 150 ? kNaN
                              : std::pow(10.0, -2.5 * s / 300.0) * (1.0 + 0.1 * std::sin(s)));
    if (s % 50 == 0) {
      c.val_step.push_back(s);
      c.val_loss.push_back(1.1 * std::pow(10.0, -2.5 * s / 300.0));
      c.val_accuracy.push_back(std::min(1.0, 0.5 + s / 400.0));
      c.val_accuracy_ctx1.push_back(std::min(1.0, 0.55 + s / 350.0));
      c.val_accuracy_ctx2.push_back(std::min(1.0, 0.45 + s / 450.0));
    }
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// The XML checker itself: it must reject what a browser rejects.

TEST(FiguresXmlCheck, AcceptsWellFormedDocuments) {
  const auto r = check_xml(
      "<?xml version=\"1.0\"?>\n<!-- c --><svg a=\"1\" b='x &amp; &#60; &#x3C;'><g><t>a &lt; "
      "b</t><e/></g></svg>\n");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.root, "svg");
  EXPECT_EQ(r.elements, 4u);
}

TEST(FiguresXmlCheck, RejectsMalformedText) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"<svg><g></svg>", "unclosed tag"},
      {"<svg><g>", "element never closed"},
      {"<svg><g></h></svg>", "mismatched end tag"},
      {"<svg>a &nbsp; b</svg>", "entity not predefined"},
      {"<svg>a & b</svg>", "bare ampersand"},
      {"<svg x=\"&#xZZ;\"/>", "bad numeric reference"},
      {"<svg width=100/>", "unquoted attribute"},
      {"<svg a=\"1\" a=\"2\"/>", "duplicate attribute"},
      {"<svg a=\"1\"b=\"2\"/>", "no space between attributes"},
      {"<svg a=\"x<y\"/>", "'<' in an attribute"},
      {"<svg/><svg/>", "two roots"},
      {"<html/>", "wrong root"},
      {"", "empty"},
      {"<svg><!-- open </svg>", "unclosed comment"},
  };
  for (const auto& [text, why] : bad) {
    const auto r = check_xml(text);
    EXPECT_FALSE(r.ok) << why << ": " << text;
    EXPECT_FALSE(r.error.empty()) << why;
  }
}

// ---------------------------------------------------------------------------------------------
// Ticks

TEST(FiguresTicks, NiceUnitIntervalGivesStepsOfTwoTenths) {
  const Ticks t = nice_ticks(0.0, 1.0);
  const std::vector<double> want = {0.0, 0.2, 0.4, 0.6, 0.8, 1.0};
  ASSERT_EQ(t.values.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_DOUBLE_EQ(t.values[i], want[i]);
  EXPECT_EQ(t.labels, (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1"}));
  // Auto limits with a 5% margin keep the same ticks.
  EXPECT_EQ(nice_ticks(-0.05, 1.05).labels, t.labels);
}

TEST(FiguresTicks, NiceKnownRanges) {
  EXPECT_EQ(nice_ticks(0, 100).labels,
            (std::vector<std::string>{"0", "20", "40", "60", "80", "100"}));
  EXPECT_EQ(nice_ticks(-1.1, 1.1).labels,
            (std::vector<std::string>{"-1", "-0.5", "0", "0.5", "1"}));
  EXPECT_EQ(nice_ticks(0, 0.3).labels,
            (std::vector<std::string>{"0", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3"}));
  EXPECT_EQ(nice_ticks(-4.9, 105).labels,
            (std::vector<std::string>{"0", "20", "40", "60", "80", "100"}));
  EXPECT_EQ(nice_ticks(0.5, 312).labels,
            (std::vector<std::string>{"50", "100", "150", "200", "250", "300"}));
  EXPECT_EQ(nice_ticks(1e-3, 3e-3).labels,
            (std::vector<std::string>{"0.001", "0.0015", "0.002", "0.0025", "0.003"}));
  // A step of 5 would give 3 ticks here (0.5, 1, 1.5); 2.5 gives 7.
  EXPECT_EQ(nice_ticks(0.1, 1.8).labels,
            (std::vector<std::string>{"0.25", "0.5", "0.75", "1", "1.25", "1.5", "1.75"}));
}

TEST(FiguresTicks, NiceFourToEightTicksWithoutFloatNoiseOverManyRanges) {
  // Deterministic sweep over magnitudes, offsets and widths.
  int checked = 0;
  for (int e = -6; e <= 6; ++e) {
    for (const double width : {1.0, 1.3, 1.7, 2.2, 3.1, 4.5, 6.0, 7.7, 9.9}) {
      for (const double offset : {-5.3, -1.0, -0.37, 0.0, 0.21, 2.9}) {
        const double scale = std::pow(10.0, e);
        const double lo = offset * scale, hi = lo + width * scale;
        const Ticks t = nice_ticks(lo, hi);
        ASSERT_GE(t.values.size(), 4u) << lo << " " << hi;
        ASSERT_LE(t.values.size(), 8u) << lo << " " << hi;
        for (std::size_t i = 0; i < t.values.size(); ++i) {
          EXPECT_GE(t.values[i], lo - 1e-9 * scale);
          EXPECT_LE(t.values[i], hi + 1e-9 * scale);
          // The label reads back as the value, and is short: no 0.30000000000000004.
          EXPECT_NEAR(std::stod(t.labels[i]), t.values[i], 1e-9 * scale) << t.labels[i];
          EXPECT_LE(t.labels[i].size(), 8u) << t.labels[i];
          EXPECT_NE(t.labels[i], "-0");
        }
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 13 * 9 * 6);
}

TEST(FiguresTicks, NiceDegenerateRangesDoNotHang) {
  EXPECT_GE(nice_ticks(3.0, 3.0).values.size(), 2u);
  EXPECT_GE(nice_ticks(0.0, 0.0).values.size(), 2u);
  EXPECT_GE(nice_ticks(kNaN, 1.0).values.size(), 2u);
  EXPECT_GE(nice_ticks(-kInf, kInf).values.size(), 2u);
  EXPECT_EQ(nice_ticks(1.0, 0.0).labels, nice_ticks(0.0, 1.0).labels);
}

TEST(FiguresTicks, FormatHasNoFloatNoiseAndNoNegativeZero) {
  EXPECT_EQ(format_tick(0.1, 0.1), "0.1");
  EXPECT_EQ(format_tick(0.1 + 0.2, 0.1), "0.3");
  EXPECT_EQ(format_tick(-0.0, 1.0), "0");
  EXPECT_EQ(format_tick(-1e-17, 0.2), "0");
  EXPECT_EQ(format_tick(1.0, 0.2), "1");
  EXPECT_EQ(format_tick(1500.0, 500.0), "1500");
  EXPECT_EQ(format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(format_tick(-2.5, 0.5), "-2.5");
  EXPECT_EQ(format_tick(2.5e-5, 5e-6), "2.5e-5");
  EXPECT_EQ(format_tick(1e8, 1e7), "1e8");
}

TEST(FiguresTicks, LogDecadesAndFillIns) {
  const Ticks a = log_ticks(0.008, 1.5);
  EXPECT_EQ(a.labels, (std::vector<std::string>{"0.01", "0.1", "1"}));
  EXPECT_EQ(a.minor.size(), 2u + 8u + 8u);  // 0.008, 0.009; 2..9 x 0.01; 2..9 x 0.1
  const Ticks b = log_ticks(0.15, 3.0);     // one decade inside: label 2x and 5x too
  EXPECT_EQ(b.labels, (std::vector<std::string>{"0.2", "0.5", "1", "2"}));
  const Ticks c = log_ticks(1e-12, 1.0);  // 13 decades: every other one
  EXPECT_EQ(c.values.size(), 7u);
  EXPECT_EQ(c.labels.front(), "1e-12");
  EXPECT_EQ(c.labels.back(), "1");
  const Ticks d = log_ticks(0.3, 0.6);  // less than a factor 2.5: linear ticks
  EXPECT_GE(d.values.size(), 2u);
  for (const double v : d.values) {
    EXPECT_GE(v, 0.3 - 1e-12);
    EXPECT_LE(v, 0.6 + 1e-12);
  }
}

// ---------------------------------------------------------------------------------------------
// SvgFigure / Axes

TEST(FiguresSvgPlot, DocumentHasSizeViewBoxBackgroundAndEscapedText) {
  SvgFigure fig(2, 3, 200, 150, "a <b> & \"c\" 'd'");
  const std::string svg = fig.str();
  expect_valid_svg(svg);
  EXPECT_EQ(strings(svg, "/svg/@width"), std::vector<std::string>{"600"});
  EXPECT_EQ(strings(svg, "/svg/@height"), std::vector<std::string>{"330"});
  EXPECT_EQ(strings(svg, "/svg/@viewBox"), std::vector<std::string>{"0 0 600 330"});
  // The title reads back as written: the five special characters were escaped.
  EXPECT_EQ(strings(svg, "/svg/title"), std::vector<std::string>{"a <b> & \"c\" 'd'"});
  EXPECT_EQ(panels(svg).size(), 6u);
  EXPECT_THROW(fig.axes(2, 0), std::out_of_range);
  EXPECT_THROW(fig.axes(0, -1), std::out_of_range);
}

TEST(FiguresSvgPlot, EmptyAxesDrawWithUnitLimits) {
  SvgFigure fig(1, 1, 400, 300);
  fig.axes(0, 0).legend();
  const std::string svg = fig.str();
  expect_valid_svg(svg);
  EXPECT_EQ(count(svg, kSeries), 0u);
  const std::vector<std::string> unit = {"0", "0.2", "0.4", "0.6", "0.8", "1"};
  EXPECT_EQ(tick_labels(svg, "xtick"), unit);
  EXPECT_EQ(tick_labels(svg, "ytick"), unit);
}

TEST(FiguresSvgPlot, SeriesGroupsAreCountedAndDecorationsAreNot) {
  SvgFigure fig(1, 2, 400, 300);
  Axes& a = fig.axes(0, 0);
  const std::vector<double> x = {0, 1, 2, 3}, y = {0, 1, 0, 1}, lo = {-1, 0, -1, 0},
                            hi = {1, 2, 1, 2};
  a.line(x, y, named("line a"));
  a.band(x, lo, hi, named("band a"));
  a.markers_with_errorbars(x, y, lo, hi, named("points a"));
  a.hline(0.5);
  a.vline(1.5);
  a.vspan(1, 2, "span");
  a.legend();
  fig.axes(0, 1).line(x, y, named("line b"));
  const std::string svg = fig.str();
  expect_valid_svg(svg);
  EXPECT_EQ(series_per_panel(svg), (std::vector<std::size_t>{3, 1}));
  EXPECT_EQ(data_labels(svg), (std::vector<std::string>{"line a", "band a", "points a", "line b"}));
  EXPECT_EQ(count(svg, "//g[@class='legend']"), 1u);
  // Default colours follow the Okabe–Ito cycle.
  EXPECT_GT(count(panels(svg)[0], "//*[@stroke='#0072B2']"), 0u);
  EXPECT_GT(count(panels(svg)[0], "//*[@fill='#D55E00']"), 0u);
  // x from 0 to 3 with a 5% margin.
  EXPECT_EQ(tick_labels(panels(svg)[1], "xtick"),
            (std::vector<std::string>{"0", "0.5", "1", "1.5", "2", "2.5", "3"}));
}

TEST(FiguresSvgPlot, NonFinitePointsBreakTheLineAndAreNeverWritten) {
  SvgFigure fig(1, 1, 400, 300);
  Axes& a = fig.axes(0, 0);
  const std::vector<double> x = {0, 1, 2, 3, 4, 5, 6}, y = {0, 1, kNaN, 1, 2, kInf, 3};
  a.line(x, y, named("broken"));
  a.band(x, y, std::vector<double>{1, 2, 3, kNaN, 2.5, 5, 3});
  a.markers_with_errorbars(x, y, y, y, named("m"));
  a.hline(kNaN);
  a.vline(kInf);
  a.vspan(kNaN, 2.0);
  const std::string svg = fig.str();
  expect_valid_svg(svg);
  // The line: three runs (0-1, 3-4, 6): three move-tos.
  const std::string d = series_path(svg, "broken");
  EXPECT_EQ(std::count(d.begin(), d.end(), 'M'), 3) << d;
  EXPECT_EQ(std::count(d.begin(), d.end(), 'L'), 2) << d;
  // Finite data only set the limits: y from 0 to 3.
  EXPECT_EQ(tick_labels(svg, "ytick").back(), "3");
}

TEST(FiguresSvgPlot, FixedLimitsAndLogAxis) {
  SvgFigure fig(1, 1, 400, 300);
  Axes& a = fig.axes(0, 0);
  a.set_log_y();
  const std::vector<double> x = {1, 2, 3, 4}, y = {1.0, 0.1, 0.0, 0.01};  // 0 is skipped on log
  a.line(x, y);
  a.set_xlim(0, 5);
  const std::string svg = fig.str();
  expect_valid_svg(svg);
  EXPECT_EQ(tick_labels(svg, "ytick"), (std::vector<std::string>{"0.01", "0.1", "1"}));
  EXPECT_EQ(tick_labels(svg, "xtick").front(), "0");
  EXPECT_EQ(tick_labels(svg, "xtick").back(), "5");
  EXPECT_THROW(a.set_ylim(1, 1), std::invalid_argument);
  EXPECT_THROW(a.line(x, std::vector<double>{1, 2}), std::invalid_argument);
}

TEST(FiguresSvgPlot, BestLegendAvoidsTheData) {
  // Data fill the upper right quarter only: the legend must go to another corner.
  SvgFigure fig(1, 1, 400, 300);
  Axes& a = fig.axes(0, 0);
  std::vector<double> x, y;
  for (int i = 0; i <= 50; ++i) {
    x.push_back(0.6 + 0.4 * i / 50.0);
    y.push_back(0.6 + 0.4 * ((i % 2) ? 1.0 : 0.0));
  }
  a.line(x, y, named("upper right"));
  a.set_xlim(0, 1);
  a.set_ylim(0, 1);
  a.legend();
  const std::string svg = fig.str();
  const auto legend_x = strings(svg, "//g[@class='legend']/rect[1]/@x");
  const auto legend_y = strings(svg, "//g[@class='legend']/rect[1]/@y");
  ASSERT_EQ(legend_x.size(), 1u);
  ASSERT_EQ(legend_y.size(), 1u);
  const double lx = std::stod(legend_x[0]), ly = std::stod(legend_y[0]);
  EXPECT_TRUE(lx < 200.0 || ly > 150.0) << lx << " " << ly;
}

TEST(FiguresSvgPlot, SaveIsAtomicAndNamesTheFileOnFailure) {
  TempDir dir;
  SvgFigure fig(1, 1, 300, 200, "t");
  const std::string path = dir.file("f.svg");
  fig.save(path);
  EXPECT_EQ(read_text(path), fig.str());
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  const std::string bad = dir.file("no/such/dir/f.svg");
  try {
    fig.save(bad);
    FAIL() << "no IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Figures

TEST(Figures, ReadoutHasABandAndALinePerSignInEachContext) {
  TempDir dir;
  const std::string path = dir.file("readout.svg");
  plot_readout(make_traces(3, 2), path);
  const std::string svg = read_text(path);
  expect_valid_svg(svg);
  EXPECT_EQ(series_per_panel(svg), (std::vector<std::size_t>{4, 4}));
  EXPECT_EQ(count(svg, kSeries), 8u);
  const auto labels = data_labels(panels(svg)[0]);
  ASSERT_EQ(labels.size(), 4u);
  EXPECT_EQ(labels[0], "relevant stimulus + \u00b11 s.d.");
  EXPECT_EQ(labels[1], "relevant stimulus +");
  EXPECT_EQ(labels[3], "relevant stimulus \u2212");
  EXPECT_EQ(count(svg, "//*[@data-label='loss window']"), 2u);
  // One legend for both panels, under them: it covers no data.
  EXPECT_EQ(count(svg, "//g[@class='legend']"), 1u);
  EXPECT_EQ(count(svg, "//g[@class='axes']//g[@class='legend']"), 0u);
  const std::vector<std::string> legend = strings(svg, "//g[@class='legend']//text");
  for (const char* entry : {"relevant stimulus +", "relevant stimulus \u2212", "loss window"}) {
    EXPECT_NE(std::find(legend.begin(), legend.end(), entry), legend.end()) << entry;
  }
  EXPECT_EQ(count(svg, "//*[@class='refline']"), 4u);  // ±1 in each panel
  EXPECT_TRUE(has_text(svg, "time (\u03c4)"));
  EXPECT_TRUE(has_text(svg, "readout y"));
  // The readout spans about [-1.05, 1.05]: ticks at halves.
  EXPECT_EQ(tick_labels(panels(svg)[0], "ytick"),
            (std::vector<std::string>{"-1", "-0.5", "0", "0.5", "1"}));
  EXPECT_EQ(tick_labels(panels(svg)[0], "xtick").back(), "100");
}

TEST(Figures, ReadoutWithoutContextsIsOnePanelByTarget) {
  TempDir dir;
  const std::string path = dir.file("readout.svg");
  plot_readout(make_traces(2, 2, /*with_context=*/false), path);
  const std::string svg = read_text(path);
  expect_valid_svg(svg);
  EXPECT_EQ(series_per_panel(svg), (std::vector<std::size_t>{4}));
  EXPECT_TRUE(has_text(svg, "all trials"));
  EXPECT_GE(count(svg, "//g[@class='series'][@data-label='target +']"), 1u);
}

TEST(Figures, ReadoutUsesTargetSignWhenCoherenceIsZero) {
  TempDir dir;
  TrialTraces tr = make_traces(1, 2);
  tr.coherence.setZero();
  plot_readout(tr, dir.file("r.svg"));
  const std::string svg = read_text(dir.file("r.svg"));
  // Without coherences the target names the group: still a band and a line per sign, and the
  // "+" mean ends up (smaller pixel y), the "−" mean down.
  for (const auto& panel : panels(svg)) {
    EXPECT_EQ(data_labels(panel),
              (std::vector<std::string>{"relevant stimulus + \u00b11 s.d.", "relevant stimulus +",
                                        "relevant stimulus \u2212 \u00b11 s.d.",
                                        "relevant stimulus \u2212"}));
    const auto plus = path_points(panel, "relevant stimulus +");
    const auto minus = path_points(panel, "relevant stimulus \u2212");
    ASSERT_EQ(plus.size(), 100u);
    ASSERT_EQ(minus.size(), 100u);
    EXPECT_LT(plus.back().second, plus.front().second - 50.0);
    EXPECT_GT(minus.back().second, minus.front().second + 50.0);
  }
}

TEST(Figures, PsychometricHasPointsAndFitPerStimulus) {
  TempDir dir;
  const std::string path = dir.file("psy.svg");
  plot_psychometric(make_curves(), path);
  const std::string svg = read_text(path);
  expect_valid_svg(svg);
  EXPECT_EQ(series_per_panel(svg), (std::vector<std::size_t>{4, 4}));
  const auto p1 = panels(svg)[0];
  EXPECT_EQ(data_labels(p1),
            (std::vector<std::string>{"stimulus 1 (relevant)", "stimulus 1 logistic fit",
                                      "stimulus 2 (irrelevant)", "stimulus 2 logistic fit"}));
  const auto p2 = data_labels(panels(svg)[1]);
  EXPECT_NE(std::find(p2.begin(), p2.end(), "stimulus 2 (relevant)"), p2.end());
  for (const auto& p : panels(svg)) {
    EXPECT_EQ(tick_labels(p, "ytick"),
              (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1"}));
    EXPECT_EQ(count(p, "//g[@class='series'][contains(@data-label, 'logistic fit')]"), 2u);
  }
  EXPECT_TRUE(has_text(svg, "P(report +1)"));
  EXPECT_TRUE(has_text(svg, "signed coherence"));
  // 6 points per curve: 6 markers and 6 error bars (3 segments each) per markers series.
  const std::string bars = series_path(p1, "stimulus 1 (relevant)");
  EXPECT_EQ(std::count(bars.begin(), bars.end(), 'M'), 18) << bars;
  EXPECT_EQ(count(p1, "//circle"), 6u + 1u);  // the points and the legend sample
}

TEST(Figures, PsychometricErrorBarIsTheBinomialStandardError) {
  // p = 0.5 of n = 100: the bar spans p ± sqrt(p (1 - p) / n) = 0.45 .. 0.55 on a [0, 1] axis.
  PsychometricCurve c;
  c.points = {{0.2, 100, 0.5}, {0.4, 0, 0.0}};  // a point without trials is not drawn
  TempDir dir;
  plot_psychometric({c}, dir.file("p.svg"));
  const std::string svg = read_text(dir.file("p.svg"));
  expect_valid_svg(svg);
  const auto clip_h = strings(svg, "//*[@id='lrnn-clip-0']/rect/@height");
  ASSERT_EQ(clip_h.size(), 1u);
  const double plot_h = std::stod(clip_h[0]);
  const std::string d = series_path(svg, "stimulus 1 (irrelevant)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(d, m, std::regex("^M[0-9.]+ ([0-9.]+)V([0-9.]+)"))) << d;
  const double length = std::stod(m[1].str()) - std::stod(m[2].str());
  constexpr double kPixelTolerance = 0.02;  // coordinates are written with 2 decimals
  EXPECT_NEAR(length, 0.1 * plot_h, kPixelTolerance);
  EXPECT_EQ(count(svg, "//circle"), 1u + 1u);  // one point (not two) and the legend sample
}

TEST(Figures, LatentsHaveOneTrajectoryPerCondition) {
  TempDir dir;
  for (const int rank : {1, 2, 3}) {
    const std::string path = dir.file("lat" + std::to_string(rank) + ".svg");
    plot_latents(make_traces(2, rank), path);
    const std::string svg = read_text(path);
    SCOPED_TRACE(rank);
    expect_valid_svg(svg);
    EXPECT_EQ(series_per_panel(svg), (std::vector<std::size_t>{4, 4}));
    const auto labels = data_labels(panels(svg)[1]);
    EXPECT_EQ(labels, (std::vector<std::string>{"s1 +, s2 +", "s1 +, s2 \u2212", "s1 \u2212, s2 +",
                                                "s1 \u2212, s2 \u2212"}));
    if (rank == 1) {
      EXPECT_TRUE(has_text(svg, "time (\u03c4)"));
    } else {
      EXPECT_GE(count(svg, "//text[.='latent \u03ba\u2082']"), 1u);
      // A hollow start and a filled end marker per trajectory.
      EXPECT_EQ(count(panels(svg)[0], "//*[@fill='#ffffff'][@stroke='#0072B2']"), 1u);
    }
    EXPECT_EQ(has_text(svg, "rank 3"), rank == 3);
  }
}

TEST(Figures, LatentsWithoutStimulusSignsAreGroupedByTarget) {
  TempDir dir;
  const std::string path = dir.file("lat.svg");
  plot_latents(make_traces(2, 2, /*with_context=*/false), path);
  const std::string svg = read_text(path);
  expect_valid_svg(svg);
  EXPECT_EQ(panels(svg).size(), 1u);
  EXPECT_EQ(data_labels(svg), (std::vector<std::string>{"target +", "target \u2212"}));
}

TEST(Figures, TrainingHasLossAndAccuracyPanels) {
  TempDir dir;
  const std::string path = dir.file("training.svg");
  plot_training(make_training_curves(), path);
  const std::string svg = read_text(path);
  expect_valid_svg(svg);
  EXPECT_EQ(series_per_panel(svg), (std::vector<std::size_t>{3, 3}));
  const auto p = panels(svg);
  EXPECT_EQ(tick_labels(p[0], "ytick"), (std::vector<std::string>{"0.01", "0.1", "1"}));
  EXPECT_EQ(tick_labels(p[1], "ytick"),
            (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1"}));
  EXPECT_EQ(data_labels(p[1]), (std::vector<std::string>{"context 1", "context 2", "overall"}));
  // The NaN loss at step 150 breaks the per-step line in two.
  const std::string loss = series_path(p[0], "training loss");
  EXPECT_EQ(std::count(loss.begin(), loss.end(), 'M'), 2) << loss;
}

TEST(Figures, EmptyDataDoesNotCrash) {
  TempDir dir;
  plot_readout(TrialTraces{}, dir.file("a.svg"));
  plot_latents(TrialTraces{}, dir.file("b.svg"));
  plot_psychometric({}, dir.file("c.svg"));
  plot_training(TrainingCurves{}, dir.file("d.svg"));
  PsychometricCurve empty_curve;
  plot_psychometric({empty_curve}, dir.file("e.svg"));
  TrialTraces no_latents = make_traces(1, 0);
  plot_latents(no_latents, dir.file("f.svg"));
  for (const char* f : {"a.svg", "b.svg", "c.svg", "d.svg", "e.svg", "f.svg"}) {
    const std::string svg = read_text(dir.file(f));
    SCOPED_TRACE(f);
    expect_valid_svg(svg);
    EXPECT_GE(panels(svg).size(), 1u);
  }
  EXPECT_EQ(count(read_text(dir.file("a.svg")), kSeries), 0u);
  EXPECT_EQ(count(read_text(dir.file("e.svg")), kSeries), 2u);  // empty points and fit
  EXPECT_EQ(count(read_text(dir.file("f.svg")), kSeries), 0u);
}

TEST(Figures, NonFiniteTracesAreSkipped) {
  TempDir dir;
  TrialTraces tr = make_traces(2, 2);
  tr.y(0, 50) = kNaN;
  tr.y(3, 10) = kInf;
  tr.kappa[0](5, 20) = kNaN;
  plot_readout(tr, dir.file("r.svg"));
  plot_latents(tr, dir.file("l.svg"));
  expect_valid_svg(read_text(dir.file("r.svg")));
  expect_valid_svg(read_text(dir.file("l.svg")));
}

// ---------------------------------------------------------------------------------------------
// metrics.jsonl

TEST(FiguresMetricsJsonl, ReadsStepsValidationSkippedAndTruncatedLines) {
  TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  write_text(
      path,
      "{\"step\": 1, \"loss\": 0.9, \"accuracy\": 0.5, \"grad_norm\": 0.02, \"lr\": 0.03}\n"
      "{\"step\": 2, \"loss\": 0.8, \"note\": \"caf\\u00e9 \\\"q\\\" \\\\ \\ud83d\\ude00\"}\n"
      "\n"
      "{\"step\": 3, \"loss\": null, \"skipped\": true, \"nan_skips\": 1}\n"
      "{\"step\": 4, \"skipped\": true, \"nan_skips\": 2}\r\n"
      "{\"step\": 5, \"loss\": 5e-1, \"val_loss\": 0.45, \"val_accuracy\": 0.75, "
      "\"val_accuracy_ctx1\": 1, \"val_accuracy_ctx2\": 0.5}\n"
      "{\"step\": 6, \"loss\": 0.4, \"val_loss\": null}\n"
      "{\"step\": 7, \"loss\": 0.3, \"grad_n");
  const TrainingCurves c = read_training_curves(path);
  EXPECT_EQ(c.step, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  ASSERT_EQ(c.loss.size(), 6u);
  EXPECT_DOUBLE_EQ(c.loss[0], 0.9);
  EXPECT_DOUBLE_EQ(c.loss[1], 0.8);
  EXPECT_TRUE(std::isnan(c.loss[2]));
  EXPECT_TRUE(std::isnan(c.loss[3]));
  EXPECT_DOUBLE_EQ(c.loss[4], 0.5);
  EXPECT_EQ(c.val_step, (std::vector<double>{5, 6}));
  ASSERT_EQ(c.val_loss.size(), 2u);
  EXPECT_DOUBLE_EQ(c.val_loss[0], 0.45);
  EXPECT_TRUE(std::isnan(c.val_loss[1]));
  EXPECT_DOUBLE_EQ(c.val_accuracy[0], 0.75);
  EXPECT_DOUBLE_EQ(c.val_accuracy_ctx1[0], 1.0);
  EXPECT_DOUBLE_EQ(c.val_accuracy_ctx2[0], 0.5);
  EXPECT_TRUE(std::isnan(c.val_accuracy[1]));
}

TEST(FiguresMetricsJsonl, MalformedLineNamesFileAndLine) {
  TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  const std::vector<std::pair<std::string, std::string>> bad = {
      // nlohmann-json's reasons, with the column.
      {"{\"step\": 3, \"loss\": 0.5,}", "column 25: syntax error while parsing object key"},
      {"{\"step\": 3, \"loss\": 01}", "syntax error while parsing object"},
      {"{\"step\": 3, \"loss\": NaN}", "invalid literal"},
      {"{\"step\": 3, \"s\": \"\\x\"}", "forbidden character after backslash"},
      {"{\"step\": 3, \"s\": \"\\udc00\"}", "surrogate"},
      {"{\"step\": 3} x", "expected end of input"},
      {"{\"step\": 3, \"loss\": 1e999}", "number overflow"},
      // lrnn's own checks.
      {"{\"step\": 3, \"step\": 4}", "duplicate key \"step\""},
      {"[3, 4]", "not a JSON object"},
      {"{\"step\": \"3\"}", "\"step\" must be a number"},
      {"{\"loss\": 0.5}", "no \"step\""},
      {"{\"step\": 3, \"loss\": true}", "\"loss\" must be a number or null"},
      {"{\"step\": 3, \"loss\": [1, 2]}", "\"loss\" must be a number or null"},
  };
  for (const auto& [line, why] : bad) {
    write_text(path, "{\"step\": 1, \"loss\": 1}\n\n" + line + "\n{\"step\": 4, \"loss\": 1}\n");
    try {
      read_training_curves(path);
      ADD_FAILURE() << "no InputError for " << line;
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(path + ":3: ", 0), 0u) << msg;
      EXPECT_NE(msg.find(why), std::string::npos) << msg;
    }
  }
  // A malformed last line that does end with a newline was written whole: an error too.
  write_text(path, "{\"step\": 1, \"loss\": 1}\n{\"step\": 2, \"loss\": \n");
  EXPECT_THROW(read_training_curves(path), InputError);
  EXPECT_THROW(read_training_curves(dir.file("missing.jsonl")), IoError);
}

}  // namespace
}  // namespace lrnn
