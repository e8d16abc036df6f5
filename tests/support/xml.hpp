// SVG files in tests, read with libxml2: a conforming XML 1.0 parser, so a document it accepts is
// well-formed (tags nest and close, attributes are quoted and unique, references are defined,
// one root element), and XPath to ask what it holds instead of searching its text.
#pragma once

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lrnn::test {

/// One parsed XML document.
class XmlDoc {
 public:
  explicit XmlDoc(std::string_view text) {
    xmlResetLastError();
    doc_.reset(xmlReadMemory(text.data(), static_cast<int>(text.size()), "document.xml", nullptr,
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    const xmlError* e = xmlGetLastError();
    if (e != nullptr) {
      error_ = std::string(e->message != nullptr ? e->message : "error") + " (line " +
               std::to_string(e->line) + ")";
      while (!error_.empty() && (error_.back() == '\n' || error_.back() == ' ')) error_.pop_back();
      doc_.reset();
    } else if (!doc_ || xmlDocGetRootElement(doc_.get()) == nullptr) {
      error_ = "no root element";
      doc_.reset();
    } else {
      // SVG puts every element in its namespace; XPath 1.0 would then need a prefix on every
      // name. The tests ask about names only.
      drop_namespaces(xmlDocGetRootElement(doc_.get()));
    }
  }

  bool ok() const { return doc_ != nullptr; }
  const std::string& error() const { return error_; }

  /// Name of the root element ("" if the document did not parse).
  std::string root() const {
    if (!ok()) return {};
    return reinterpret_cast<const char*>(xmlDocGetRootElement(doc_.get())->name);
  }

  /// Nodes that the XPath 1.0 expression selects.
  std::size_t count(const std::string& xpath) const { return strings(xpath).size(); }

  /// The string value of every node `xpath` selects (an attribute's value, an element's text).
  std::vector<std::string> strings(const std::string& xpath) const {
    std::vector<std::string> out;
    for_each_node(xpath, [&](xmlNode* node) {
      xmlChar* value = xmlNodeGetContent(node);
      out.emplace_back(value != nullptr ? reinterpret_cast<const char*>(value) : "");
      xmlFree(value);
    });
    return out;
  }

  /// Each element `xpath` selects, written out as a document of its own.
  std::vector<std::string> elements(const std::string& xpath) const {
    std::vector<std::string> out;
    for_each_node(xpath, [&](xmlNode* node) {
      const std::unique_ptr<xmlBuffer, decltype(&xmlBufferFree)> buffer(xmlBufferCreate(),
                                                                        &xmlBufferFree);
      xmlNodeDump(buffer.get(), doc_.get(), node, 0, 0);
      out.emplace_back(reinterpret_cast<const char*>(xmlBufferContent(buffer.get())));
    });
    return out;
  }

 private:
  template <typename Visit>
  void for_each_node(const std::string& xpath, Visit&& visit) const {
    if (!ok()) return;
    const std::unique_ptr<xmlXPathContext, decltype(&xmlXPathFreeContext)> ctx(
        xmlXPathNewContext(doc_.get()), &xmlXPathFreeContext);
    const std::unique_ptr<xmlXPathObject, decltype(&xmlXPathFreeObject)> result(
        xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(xpath.c_str()), ctx.get()),
        &xmlXPathFreeObject);
    if (!result || result->type != XPATH_NODESET || result->nodesetval == nullptr) return;
    for (int i = 0; i < result->nodesetval->nodeNr; ++i) visit(result->nodesetval->nodeTab[i]);
  }

  static void drop_namespaces(xmlNode* node) {
    for (; node != nullptr; node = node->next) {
      if (node->type == XML_ELEMENT_NODE) {
        node->ns = nullptr;
        drop_namespaces(node->children);
      }
    }
  }

  std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)> doc_{nullptr, &xmlFreeDoc};
  std::string error_;
};

struct XmlCheck {
  bool ok = false;
  std::string error;         ///< libxml2's reason, with the line
  std::string root;          ///< name of the root element
  std::size_t elements = 0;  ///< elements in the document
};

/// Whether `text` is a well-formed XML document whose root element is `expected_root` (any root
/// if empty).
inline XmlCheck check_xml(std::string_view text, std::string_view expected_root = "svg") {
  const XmlDoc doc(text);
  XmlCheck r;
  r.error = doc.error();
  r.root = doc.root();
  r.elements = doc.count("//*");
  r.ok = doc.ok();
  if (r.ok && !expected_root.empty() && r.root != expected_root) {
    r.ok = false;
    r.error = "root element is <" + r.root + ">, expected <" + std::string(expected_root) + ">";
  }
  return r;
}

/// Nodes of the document `xml` that `xpath` selects (0 if it does not parse).
inline std::size_t count_nodes(std::string_view xml, const std::string& xpath) {
  return XmlDoc(xml).count(xpath);
}

}  // namespace lrnn::test
