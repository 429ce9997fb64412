#include "http_head.h"

#include <climits>
#include <cstdint>
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

bool StatusAccepted(int status, const std::vector<int32_t>& ranges) {
  if (ranges.empty()) return status >= 200 && status <= 299;
  for (size_t i = 0; i + 1 < ranges.size(); i += 2)
    if (status >= ranges[i] && status <= ranges[i + 1]) return true;
  return false;
}

PlainJudge::Verdict PlainJudge::Read(const uint8_t* p, size_t n) {
  switch (stage_) {
    case kHead: {
      PlainHead h;
      if (ParsePlainHead(p, n, &h) != HeadParse::kPlain) return Verdict::kNotPlain;
      status_ = h.status;
      status_end_ = h.status_end;
      if (!StatusAccepted(h.status, *ranges_)) {
        stage_ = kDone;
        return Verdict::kRejected;
      }
      int64_t body = static_cast<int64_t>(n - h.body_start);
      if (h.no_body) {
        stage_ = kDone;
        return Verdict::kOk;
      }
      if (h.content_length < 0) {
        received_ = body;
        stage_ = kBodyToFin;
        return Verdict::kMore;
      }
      received_ = body < h.content_length ? body : h.content_length;
      remaining_ = h.content_length - received_;
      if (remaining_ == 0) {
        stage_ = kDone;
        return Verdict::kOk;
      }
      stage_ = kBodyLength;
      return Verdict::kMore;
    }
    case kBodyLength: {
      int64_t take = static_cast<int64_t>(n) < remaining_ ? static_cast<int64_t>(n) : remaining_;
      received_ += take;
      remaining_ -= take;
      if (remaining_ > 0) return Verdict::kMore;
      stage_ = kDone;
      return Verdict::kOk;
    }
    case kBodyToFin:
      received_ += static_cast<int64_t>(n);
      return Verdict::kMore;
    case kDone:
      break;
  }
  return Verdict::kMore;
}

PlainJudge::Verdict PlainJudge::Fin() {
  switch (stage_) {
    case kBodyLength:  // before its Content-Length: truncated, as the JS reader says
      stage_ = kDone;
      truncated_at_ = received_ > INT32_MAX ? INT32_MAX : static_cast<int>(received_);
      return Verdict::kOk;
    case kBodyToFin:
      stage_ = kDone;
      return Verdict::kOk;
    case kHead:  // nothing read (a first read decides plain or not)
      stage_ = kDone;
      return Verdict::kEnd;
    case kDone:
      break;
  }
  return Verdict::kMore;
}

Napi::Value JsJudgePlainHttp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsTypedArray() || !info[2].IsBoolean() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    ThrowType(env, "judgePlainHttp(reads: Uint8Array[], statusRanges: Int32Array, fin: boolean)");
  auto reads = info[0].As<Napi::Array>();
  auto r = info[1].As<Napi::Int32Array>();
  std::vector<int32_t> ranges(r.Data(), r.Data() + r.ElementLength());
  PlainJudge judge(&ranges);
  PlainJudge::Verdict v = PlainJudge::Verdict::kMore;
  int at = -1;
  for (uint32_t i = 0; i < reads.Length() && v == PlainJudge::Verdict::kMore; ++i) {
    Napi::Value x = reads[i];
    if (!x.IsTypedArray() || x.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) ThrowType(env, "each read must be a Uint8Array");
    auto a = x.As<Napi::Uint8Array>();
    if (a.ElementLength() == 0) ThrowType(env, "a read is never empty (0 is the FIN)");
    v = judge.Read(a.Data(), a.ElementLength());
    at = static_cast<int>(i);
  }
  if (v == PlainJudge::Verdict::kMore && info[2].As<Napi::Boolean>().Value()) {
    v = judge.Fin();
    at = -1;
  }
  const char* name = "more";
  switch (v) {
    case PlainJudge::Verdict::kMore: name = "more"; break;
    case PlainJudge::Verdict::kNotPlain: name = "not plain"; break;
    case PlainJudge::Verdict::kOk: name = "ok"; break;
    case PlainJudge::Verdict::kRejected: name = "rejected"; break;
    case PlainJudge::Verdict::kEnd: name = "end"; break;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("verdict", name);
  o.Set("read", at);
  o.Set("status", judge.status());
  o.Set("statusEnd", static_cast<double>(judge.status_end()));
  o.Set("truncatedAt", judge.truncated_at());
  return o;
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
