// The latent flow field against the latent ODE of a bulk-free rank-2 network, and the flow-field
// figures read back with libxml2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "lrnn/analysis/fixed_points.hpp"
#include "lrnn/analysis/flow_field.hpp"
#include "lrnn/core/random.hpp"
#include "lrnn/report/flow_field_figure.hpp"
#include "support/files.hpp"
#include "support/xml.hpp"

namespace lrnn {
namespace {

// Sums of a few hundred O(1) products: rounding only.
constexpr double kRoundingTol = 1e-11;

Network<double> rank2_network(Index N, double g) {
  Network<double> net;
  net.theta = Params<double>(Dims{N, 2, 4});
  Philox rng(4, Stream::kFixedPointStarts, 1);
  for (Index i = 0; i < N; ++i) {
    for (Index r = 0; r < 2; ++r) net.theta.M()(i, r) = rng.normal();
    for (Index r = 0; r < 2; ++r) net.theta.n()(i, r) = 1.8 * net.theta.M()(i, r) + rng.normal();
    for (Index k = 0; k < 4; ++k) net.theta.B()(i, k) = rng.normal();
    net.theta.w()[i] = rng.normal();
  }
  net.C = MatX<double>::Zero(N, N);
  for (Index j = 0; j < N; ++j) {
    for (Index i = 0; i < N; ++i) net.C(i, j) = rng.normal() / std::sqrt(static_cast<double>(N));
  }
  net.g = g;
  net.tau = 2.0;
  return net;
}

TEST(FlowField, WithoutBulkOrInputItIsTheLatentOde) {
  // g = 0, u = 0: x = M k stays in the plane and tau dk/dt = -k + M⁺ M nᵀ phi(M k) / N
  // = -k + nᵀ phi(M k) / N.
  const Index N = 200;
  const Network<double> net = rank2_network(N, 0.0);
  const std::vector<double> k1 = {-1.0, 0.3, 2.0}, k2 = {-0.5, 1.5};
  const FlowField f = latent_flow_field(net, flow_directions(net), VecX<double>::Zero(4), k1, k2);
  for (std::size_t j = 0; j < k2.size(); ++j) {
    for (std::size_t i = 0; i < k1.size(); ++i) {
      VecX<double> k(2);
      k << k1[i], k2[j];
      const VecX<double> phi = (net.theta.M() * k).array().tanh();
      const VecX<double> dk =
          (-k + net.theta.n().transpose() * phi / static_cast<double>(N)) / net.tau;
      const auto J = static_cast<Index>(j), I = static_cast<Index>(i);
      EXPECT_NEAR(f.dk1(J, I), dk[0], kRoundingTol);
      EXPECT_NEAR(f.dk2(J, I), dk[1], kRoundingTol);
      EXPECT_NEAR(f.speed(J, I), dk.norm(), kRoundingTol);
    }
  }
}

TEST(FlowField, VanishesAtTheFixedPointsOfABulkFreeNetwork) {
  const Network<double> net = rank2_network(150, 0.0);
  ConstantInput in;
  in.name = "u = 0";
  in.u = VecX<double>::Zero(4);
  in.t_after = 30.0;
  const FixedPointReport r = find_fixed_points(net, {in});
  ASSERT_FALSE(r.conditions[0].points.empty());
  for (const FixedPoint& p : r.conditions[0].points) {
    const FlowField f =
        latent_flow_field(net, flow_directions(net), in.u, {p.coords[0]}, {p.coords[1]});
    EXPECT_LT(f.speed(0, 0), 1e-9) << to_string(p.kind);
  }
}

TEST(FlowField, FigureHasAPanelPerConditionWithShadingArrowsPointsAndTrials) {
  const Network<double> net = rank2_network(80, 0.5);
  std::vector<ConstantInput> inputs;
  for (int k = 0; k < 3; ++k) {
    ConstantInput in;
    in.name = "ctx1 " + std::to_string(k);
    in.u = VecX<double>::Constant(4, 0.2 * k);
    in.t_before = 2.0;
    in.t_after = 20.0;
    in.target = k == 0 ? 0 : 1;
    inputs.push_back(in);
  }
  const FixedPointReport r = find_fixed_points(net, inputs);
  const auto dir =
      std::filesystem::temp_directory_path() / ("lrnn_flow_field_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::vector<std::string> files = plot_flow_fields(net, r, 0.1, dir.string());
  ASSERT_EQ(files.size(), 1u);
  const std::string svg = test::read_text(files[0]);
  ASSERT_TRUE(test::check_xml(svg).ok) << test::check_xml(svg).error;
  EXPECT_EQ(test::count_nodes(svg, "//*[local-name()='g'][@class='axes']"), 3u);
  // Per panel: one shading of 24 x 24 cells, one arrow path; the cue panel shows the 2 other
  // trials and its own, the others their own.
  EXPECT_EQ(
      test::count_nodes(svg, "//*[local-name()='g'][@class='series']//*[local-name()='rect']"),
      3u * 24 * 24);
  std::size_t points = 0;
  for (const ConditionPoints& c : r.conditions) points += c.points.size();
  EXPECT_EQ(test::count_nodes(svg,
                              "//*[local-name()='g'][@class='series'][contains(@data-label, "
                              "'trial')]"),
            3u + 1 + 1);
  EXPECT_EQ(test::count_nodes(svg,
                              "//*[local-name()='g'][@class='series'][contains(@data-label, "
                              "'point') or contains(@data-label, 'saddle')]"),
            points);
  EXPECT_NE(svg.find("leave out the bulk"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lrnn
