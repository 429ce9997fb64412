#include "http_head.h"

#include <cstring>

#include "common.h"

namespace vk {

namespace {

bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }

// What String.prototype.trim removes from a latin1 string: TAB, LF, VT, FF, CR, space, NBSP.
bool IsTrimmed(uint8_t c) { return c == 0x20 || (c >= 0x09 && c <= 0x0d) || c == 0xa0; }

// b[n0, n1) equals `lower` (lower case letters and '-') ignoring ASCII case.
bool NameIs(const uint8_t* b, size_t n0, size_t n1, const char* lower) {
  size_t len = std::strlen(lower);
  if (n1 - n0 != len) return false;
  for (size_t k = 0; k < len; ++k) {
    uint8_t c = static_cast<uint8_t>(lower[k]);
    uint8_t x = b[n0 + k];
    if (x != c && !(c >= 'a' && c <= 'z' && x == c - 0x20)) return false;
  }
  return true;
}

// The first LF in b[from, to), or `to`.
size_t FindLf(const uint8_t* b, size_t from, size_t to) {
  const void* p = from < to ? std::memchr(b + from, '\n', to - from) : nullptr;
  return p == nullptr ? to : static_cast<size_t>(static_cast<const uint8_t*>(p) - b);
}

// As the JS reader's findHeadEnd: just after the first empty line (LF LF or LF CR LF); 0 if none.
size_t HeadEnd(const uint8_t* b, size_t n) {
  for (size_t i = FindLf(b, 0, n); i < n; i = FindLf(b, i + 1, n)) {
    if (i >= 1 && b[i - 1] == '\n') return i + 1;
    if (i >= 2 && b[i - 1] == '\r' && b[i - 2] == '\n') return i + 1;
  }
  return 0;
}

// As the JS reader's statusCode: /^HTTP\/\d\.\d[ \t]+(\d{3})(?:[ \t]|$)/ on b[0, end); -1 if not.
int StatusCode(const uint8_t* b, size_t end) {
  if (end < 12 || std::memcmp(b, "HTTP/", 5) != 0) return -1;
  if (!IsDigit(b[5]) || b[6] != '.' || !IsDigit(b[7])) return -1;
  size_t i = 8;
  while (i < end && (b[i] == ' ' || b[i] == '\t')) ++i;
  if (i == 8 || i + 3 > end || !IsDigit(b[i]) || !IsDigit(b[i + 1]) || !IsDigit(b[i + 2])) return -1;
  if (i + 3 < end && b[i + 3] != ' ' && b[i + 3] != '\t') return -1;
  return (b[i] - '0') * 100 + (b[i + 1] - '0') * 10 + (b[i + 2] - '0');
}

}  // namespace

HeadParse ParsePlainHead(const uint8_t* b, size_t n, PlainHead* out) {
  size_t body_start = HeadEnd(b, n);
  if (body_start == 0) return HeadParse::kIncomplete;
  // the block without the LF that ends its last line, as the JS reader cuts it
  size_t end = b[body_start - 2] == '\n' ? body_start - 2 : body_start - 3;
  size_t eol = FindLf(b, 0, end);
  size_t status_end = eol > 0 && b[eol - 1] == '\r' ? eol - 1 : eol;
  int status = StatusCode(b, status_end);
  if (status < 0) return HeadParse::kNotPlain;
  int lengths = 0;
  int64_t length = -1;
  while (eol < end) {
    size_t start = eol + 1;
    eol = FindLf(b, start, end);
    size_t line_end = eol > start && b[eol - 1] == '\r' ? eol - 1 : eol;
    size_t colon = start;
    while (colon < line_end && b[colon] != ':') ++colon;
    if (colon == start || colon == line_end) continue;
    size_t n0 = start, n1 = colon;
    while (n0 < n1 && IsTrimmed(b[n0])) ++n0;
    while (n1 > n0 && IsTrimmed(b[n1 - 1])) --n1;
    if (NameIs(b, n0, n1, "transfer-encoding")) return HeadParse::kNotPlain;
    if (!NameIs(b, n0, n1, "content-length")) continue;
    if (++lengths > 1) return HeadParse::kNotPlain;
    size_t v0 = colon + 1, v1 = line_end;
    while (v0 < v1 && IsTrimmed(b[v0])) ++v0;
    while (v1 > v0 && IsTrimmed(b[v1 - 1])) --v1;
    if (v1 == v0 || v1 - v0 > 15) return HeadParse::kNotPlain;
    length = 0;
    for (size_t k = v0; k < v1; ++k) {
      if (!IsDigit(b[k])) return HeadParse::kNotPlain;
      length = length * 10 + (b[k] - '0');
    }
  }
  out->status = status;
  out->status_end = status_end;
  out->body_start = body_start;
  out->no_body = (status >= 100 && status < 200) || status == 204 || status == 304;
  out->content_length = length;
  return HeadParse::kPlain;
}

Napi::Value JsParsePlainHttpHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) ThrowType(env, "parsePlainHttpHead(bytes: Uint8Array)");
  auto a = info[0].As<Napi::Uint8Array>();
  PlainHead h;
  switch (ParsePlainHead(a.Data(), a.ElementLength(), &h)) {
    case HeadParse::kIncomplete:
      return Napi::String::New(env, "incomplete");
    case HeadParse::kNotPlain:
      return Napi::String::New(env, "not plain");
    case HeadParse::kPlain:
      break;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("status", h.status);
  o.Set("statusEnd", static_cast<double>(h.status_end));
  o.Set("bodyStart", static_cast<double>(h.body_start));
  o.Set("noBody", h.no_body);
  o.Set("contentLength", static_cast<double>(h.content_length));
  return o;
}

}  // namespace vk
