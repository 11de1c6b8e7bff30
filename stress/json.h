// json.h: a minimal JSON writer for the reports (no dependency).
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

namespace anonx::stress {

class json {
 public:
  std::string str() const { return out_; }
  json &obj() { return open('{'); }
  json &arr() { return open('['); }
  json &end_obj() { return close('}'); }
  json &end_arr() { return close(']'); }
  json &key(const std::string &k) {
    comma();
    quote(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  json &val(const std::string &s) {
    comma();
    quote(s);
    return *this;
  }
  json &val(const char *s) { return val(std::string(s)); }
  json &val(bool b) {
    comma();
    out_ += b ? "true" : "false";
    return *this;
  }
  json &val(double d) {
    comma();
    if (!std::isfinite(d)) {
      out_ += "null";
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6g", d);
      out_ += buf;
    }
    return *this;
  }
  json &val(unsigned long long v) {
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  json &val(unsigned long v) { return val(static_cast<unsigned long long>(v)); }
  json &val(unsigned v) { return val(static_cast<unsigned long long>(v)); }
  json &val(long long v) {
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  json &val(long v) { return val(static_cast<long long>(v)); }
  json &val(int v) { return val(static_cast<long long>(v)); }
  json &null() {
    comma();
    out_ += "null";
    return *this;
  }
  template <class T>
  json &kv(const std::string &k, const T &v) {
    key(k);
    return val(v);
  }

 private:
  json &open(char c) {
    comma();
    out_ += c;
    first_ = true;
    return *this;
  }
  json &close(char c) {
    out_ += c;
    first_ = false;
    return *this;
  }
  void comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_) out_ += ',';
    first_ = false;
  }
  void quote(const std::string &s) {
    out_ += '"';
    for (char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
  }
  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace anonx::stress
