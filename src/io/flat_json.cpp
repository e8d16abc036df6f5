#include "io/flat_json.hpp"

#include <charconv>
#include <cstdint>
#include <system_error>

namespace lrnn::detail {

namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  FlatJsonObject object() {
    FlatJsonObject out;
    skip_ws();
    expect('{', "expected '{' at the start of the object");
    skip_ws();
    if (peek() == '}') {
      ++pos_;
    } else {
      for (;;) {
        skip_ws();
        if (peek() != '"') fail("expected a key in double quotes");
        const std::size_t key_pos = pos_;
        std::string key = string();
        for (const auto& kv : out) {
          if (kv.first == key) fail_at(key_pos, "duplicate key \"" + key + "\"");
        }
        skip_ws();
        expect(':', "expected ':' after the key \"" + key + "\"");
        skip_ws();
        out.emplace_back(std::move(key), value());
        skip_ws();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() == '}') {
          ++pos_;
          break;
        }
        fail(at_end() ? "unexpected end of line: the object is not closed"
                      : "expected ',' or '}' after a value");
      }
    }
    skip_ws();
    if (!at_end()) fail("unexpected text after the object");
    return out;
  }

 private:
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }

  [[noreturn]] void fail_at(std::size_t pos, const std::string& what) const {
    throw JsonParseError(pos + 1, what);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  void expect(char c, const std::string& what) {
    if (peek() != c || at_end()) fail(at_end() ? "unexpected end of line: " + what : what);
    ++pos_;
  }

  void skip_ws() {
    while (!at_end() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n')) {
      ++pos_;
    }
  }

  JsonScalar value() {
    JsonScalar v;
    const char c = peek();
    if (at_end()) fail("unexpected end of line: expected a value");
    if (c == '"') {
      v.type = JsonScalar::Type::kString;
      v.string = string();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.type = JsonScalar::Type::kNumber;
      v.number = number();
    } else if (literal("true")) {
      v.type = JsonScalar::Type::kBool;
      v.boolean = true;
    } else if (literal("false")) {
      v.type = JsonScalar::Type::kBool;
    } else if (literal("null")) {
      v.type = JsonScalar::Type::kNull;
    } else if (c == '[' || c == '{') {
      fail("nested arrays and objects are not supported in a flat metrics line");
    } else {
      fail(std::string("unexpected character '") + c + "': expected a value");
    }
    return v;
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // The JSON number grammar exactly (no leading '+', no leading zeros, no '.5', no 'nan').
  double number() {
    const std::size_t start = pos_;
    const auto digits = [&] {
      const std::size_t d0 = pos_;
      while (!at_end() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - d0;
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
      if (peek() >= '0' && peek() <= '9') fail("a number cannot have a leading zero");
    } else if (digits() == 0) {
      fail("expected a digit");
    }
    if (peek() == '.') {
      ++pos_;
      if (digits() == 0) fail("expected a digit after the decimal point");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (digits() == 0) fail("expected a digit in the exponent");
    }
    double v = 0.0;
    const auto res = std::from_chars(s_.data() + start, s_.data() + pos_, v);
    if (res.ec == std::errc::result_out_of_range) {
      fail_at(start, "number out of range: " + std::string(s_.substr(start, pos_ - start)));
    }
    if (res.ec != std::errc() || res.ptr != s_.data() + pos_) fail_at(start, "malformed number");
    return v;
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) fail("unexpected end of line in a \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        fail_at(pos_ - 1, "expected 4 hex digits after \\u");
      }
    }
    return v;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    ++pos_;  // the opening quote
    std::string out;
    for (;;) {
      if (at_end()) fail("unexpected end of line: the string is not closed");
      const char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character inside a string");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      if (at_end()) fail("unexpected end of line after '\\'");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const std::size_t esc = pos_ - 2;
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(pos_, 2) != "\\u") fail_at(esc, "a lone UTF-16 high surrogate");
            pos_ += 2;
            const std::uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail_at(esc, "a lone UTF-16 high surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail_at(esc, "a lone UTF-16 low surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail_at(pos_ - 2, std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

FlatJsonObject parse_flat_json_object(std::string_view text) { return Parser(text).object(); }

const JsonScalar* find(const FlatJsonObject& object, std::string_view key) {
  for (const auto& kv : object) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

}  // namespace lrnn::detail
