// A minimal XML well-formedness checker for tests: tags nest and close, attribute values are
// quoted, references are the five predefined entities or numeric character references, there is
// one root element (of an expected name), and nothing but comments, processing instructions and
// whitespace around it. No DTDs, no CDATA sections: our SVG writer emits neither.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lrnn::test {

struct XmlCheck {
  bool ok = false;
  std::string error;         ///< what is wrong, with the byte offset
  std::string root;          ///< name of the root element
  std::size_t elements = 0;  ///< elements seen
};

namespace detail {

class XmlChecker {
 public:
  explicit XmlChecker(std::string_view s) : s_(s) {}

  XmlCheck run(std::string_view expected_root) {
    XmlCheck r;
    try {
      if (s_.substr(0, 5) == "<?xml") processing_instruction();
      misc();
      if (at_end()) fail("no root element");
      if (s_[pos_] != '<') fail("text before the root element");
      r.root = element();
      misc();
      if (!at_end()) fail("content after the root element");
      if (!expected_root.empty() && r.root != expected_root) {
        fail("root element is <" + r.root + ">, expected <" + std::string(expected_root) + ">");
      }
      r.ok = true;
    } catch (const Failure& f) {
      r.error = f.what;
    }
    r.elements = elements_;
    return r;
  }

 private:
  struct Failure {
    std::string what;
  };

  [[noreturn]] void fail(const std::string& what) const {
    throw Failure{what + " (at byte " + std::to_string(pos_) + ")"};
  }
  bool at_end() const { return pos_ >= s_.size(); }
  bool starts(std::string_view p) const { return s_.substr(pos_, p.size()) == p; }
  static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static bool name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           static_cast<unsigned char>(c) >= 0x80;
  }
  static bool name_char(char c) {
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
  }
  void skip_space() {
    while (!at_end() && space(s_[pos_])) ++pos_;
  }

  std::string name() {
    if (at_end() || !name_start(s_[pos_])) fail("expected a name");
    const std::size_t b = pos_;
    while (!at_end() && name_char(s_[pos_])) ++pos_;
    return std::string(s_.substr(b, pos_ - b));
  }

  // Whitespace, comments and processing instructions outside the root element.
  void misc() {
    for (;;) {
      skip_space();
      if (starts("<!--")) {
        comment();
      } else if (starts("<?")) {
        processing_instruction();
      } else if (starts("<!")) {
        fail("DOCTYPE and CDATA are not supported");
      } else {
        return;
      }
    }
  }

  void comment() {
    const auto e = s_.find("-->", pos_ + 4);
    if (e == std::string_view::npos) fail("unclosed comment");
    if (s_.substr(pos_ + 4, e - pos_ - 4).find("--") != std::string_view::npos) {
      fail("'--' inside a comment");
    }
    pos_ = e + 3;
  }

  void processing_instruction() {
    const auto e = s_.find("?>", pos_ + 2);
    if (e == std::string_view::npos) fail("unclosed processing instruction");
    pos_ = e + 2;
  }

  // '&' at pos_: one of the five predefined entities or a numeric character reference.
  void reference() {
    const auto e = s_.find(';', pos_);
    if (e == std::string_view::npos || e - pos_ > 12) fail("'&' that does not start a reference");
    const std::string_view ref = s_.substr(pos_ + 1, e - pos_ - 1);
    static const std::set<std::string_view> kPredefined = {"amp", "lt", "gt", "quot", "apos"};
    bool ok = kPredefined.count(ref) > 0;
    if (!ok && ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      const std::string_view digits = ref.substr(hex ? 2 : 1);
      ok = !digits.empty();
      for (const char c : digits) {
        const bool dec = c >= '0' && c <= '9';
        const bool hx = dec || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        ok = ok && (hex ? hx : dec);
      }
    }
    if (!ok) fail("unknown entity '&" + std::string(ref) + ";'");
    pos_ = e + 1;
  }

  // An element at '<'; returns its name.
  std::string element() {
    ++pos_;
    const std::string tag = name();
    ++elements_;
    std::set<std::string> attrs;
    for (;;) {
      const std::size_t before = pos_;
      skip_space();
      if (at_end()) fail("unclosed start tag <" + tag + ">");
      if (starts("/>")) {
        pos_ += 2;
        return tag;
      }
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      if (pos_ == before) fail("expected whitespace between attributes of <" + tag + ">");
      const std::string attr = name();
      if (!attrs.insert(attr).second) fail("duplicate attribute " + attr + " in <" + tag + ">");
      skip_space();
      if (at_end() || s_[pos_] != '=') fail("attribute " + attr + " without '='");
      ++pos_;
      skip_space();
      if (at_end() || (s_[pos_] != '"' && s_[pos_] != '\'')) {
        fail("unquoted value of attribute " + attr + " in <" + tag + ">");
      }
      const char q = s_[pos_++];
      for (;;) {
        if (at_end()) fail("unterminated value of attribute " + attr);
        const char c = s_[pos_];
        if (c == q) {
          ++pos_;
          break;
        }
        if (c == '<') fail("'<' in the value of attribute " + attr);
        if (c == '&') {
          reference();
        } else {
          ++pos_;
        }
      }
    }
    // Content up to the matching end tag.
    for (;;) {
      if (at_end()) fail("element <" + tag + "> is not closed");
      const char c = s_[pos_];
      if (c == '&') {
        reference();
      } else if (c != '<') {
        ++pos_;
      } else if (starts("</")) {
        pos_ += 2;
        const std::string end = name();
        skip_space();
        if (at_end() || s_[pos_] != '>') fail("malformed end tag </" + end);
        ++pos_;
        if (end != tag) fail("end tag </" + end + "> does not match <" + tag + ">");
        return tag;
      } else if (starts("<!--")) {
        comment();
      } else if (starts("<?")) {
        processing_instruction();
      } else if (starts("<!")) {
        fail("DOCTYPE and CDATA are not supported");
      } else {
        element();
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t elements_ = 0;
};

}  // namespace detail

/// Checks that `text` is a well-formed XML document whose root element is `expected_root` (any
/// root if empty).
inline XmlCheck check_xml(std::string_view text, std::string_view expected_root = "svg") {
  return detail::XmlChecker(text).run(expected_root);
}

}  // namespace lrnn::test
