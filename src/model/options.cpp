#include "lrnn/model/options.hpp"

#include <string>

#include "core/option_checks.hpp"

namespace lrnn {

bool RnnOptions::IsValid(OptionError* error) const {
  detail::OptionChecks c(error);
  return c.at_least("rnn.N", N, 1) && c.at_least("rnn.R", R, 1) &&
         (R <= N || c.fail({"rnn.R", "rnn.N"}, "rnn.R", std::to_string(R),
                           "must be <= rnn.N (" + std::to_string(N) + ")")) &&
         c.non_negative("rnn.g", g) && c.positive("rnn.tau", tau) &&
         c.at_least("rnn.d_in", d_in, 1) && c.non_negative("rnn.M_init_std", M_init_std) &&
         c.non_negative("rnn.N_init_std", N_init_std) &&
         c.non_negative("rnn.B_init_std", B_init_std) &&
         c.non_negative("rnn.w_init_std", w_init_std) && c.non_negative("rnn.noise_std", noise_std);
}

}  // namespace lrnn
