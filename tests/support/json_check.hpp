// A strict JSON validator for tests (RFC 8259 grammar: objects, arrays, strings with escapes,
// numbers, true/false/null), so that a test can show that metrics.json and --json outputs are
// documents every JSON reader accepts. Returns an empty string when valid, else what is wrong and
// where.
#pragma once

#include <cctype>
#include <string>

namespace lrnn::test {

class JsonChecker {
 public:
  explicit JsonChecker(const std::string& text) : s_(text) {}

  std::string check() {
    try {
      ws();
      value();
      ws();
      if (i_ != s_.size()) fail("text after the document");
    } catch (const std::string& e) {
      return e;
    }
    return {};
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw what + " at offset " + std::to_string(i_);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) {
      ++i_;
    }
  }
  void expect(const char* word) {
    for (const char* p = word; *p; ++p, ++i_) {
      if (peek() != *p) fail(std::string("expected ") + word);
    }
  }
  void value() {
    switch (peek()) {
      case '{':
        return object();
      case '[':
        return array();
      case '"':
        return string();
      case 't':
        return expect("true");
      case 'f':
        return expect("false");
      case 'n':
        return expect("null");
      default:
        return number();
    }
  }
  void object() {
    ++i_;
    ws();
    if (peek() == '}') {
      ++i_;
      return;
    }
    for (;;) {
      ws();
      if (peek() != '"') fail("expected a key");
      string();
      ws();
      if (peek() != ':') fail("expected ':'");
      ++i_;
      ws();
      value();
      ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() == '}') {
        ++i_;
        return;
      }
      fail("expected ',' or '}'");
    }
  }
  void array() {
    ++i_;
    ws();
    if (peek() == ']') {
      ++i_;
      return;
    }
    for (;;) {
      ws();
      value();
      ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() == ']') {
        ++i_;
        return;
      }
      fail("expected ',' or ']'");
    }
  }
  void string() {
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c < 0x20) fail("control character in a string");
      if (c == '\\') {
        ++i_;
        const char e = peek();
        if (e == 'u') {
          for (int k = 0; k < 4; ++k) {
            ++i_;
            if (!std::isxdigit(static_cast<unsigned char>(peek()))) fail("bad \\u escape");
          }
        } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos || e == '\0') {
          fail("bad escape");
        }
      }
      ++i_;
    }
    if (peek() != '"') fail("unterminated string");
    ++i_;
  }
  void number() {
    const std::size_t start = i_;
    if (peek() == '-') ++i_;
    if (peek() == '0') {
      ++i_;
    } else if (std::isdigit(static_cast<unsigned char>(peek()))) {
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++i_;
    } else {
      fail("expected a value");
    }
    if (peek() == '.') {
      ++i_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected digits after '.'");
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++i_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected an exponent");
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++i_;
    }
    if (i_ == start) fail("expected a value");
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

/// "" when `text` is one valid JSON document, else what is wrong.
inline std::string json_error(const std::string& text) { return JsonChecker(text).check(); }

}  // namespace lrnn::test
