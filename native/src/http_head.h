#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vk {

// The HTTP_GET response head when it is plain: what the connector needs to finish a check
// without handing the response to JS. The rules are those of the JS reader
// (src/check/probes/http-response.ts), and a property test holds the two together; anything the
// fast path does not cover is "not plain", and the connector then hands the bytes to JS, which
// parses them as before.
struct PlainHead {
  int status = 0;
  size_t status_end = 0;  // the status line is [0, status_end)
  size_t body_start = 0;  // just after the head's empty line
  bool no_body = false;   // 1xx, 204, 304
  int64_t content_length = -1;  // -1: none (the body runs to the server's FIN)
};

enum class HeadParse { kIncomplete, kNotPlain, kPlain };

// Plain: the head is complete in b[0, n), its status line is one the JS reader accepts, there is
// no Transfer-Encoding header, and at most one Content-Length whose value is 1 to 15 digits.
HeadParse ParsePlainHead(const uint8_t* b, size_t n, PlainHead* out);

// A plain HTTP_GET's response judged read by read, as TcpConnector reads it: the first read
// must hold a plain head (else the response goes to JS: kNotPlain), then the status is held to
// the ranges and the body counted to its Content-Length or to the server's FIN. What JS's
// HttpExchange would conclude from the same bytes, wherever this concludes anything (held
// together by a differential property test, src/check/probes/http-response.test.ts).
class PlainJudge {
 public:
  enum class Verdict {
    kMore,      // nothing decided yet: more reads (or the FIN) to come
    kNotPlain,  // hand this read and the rest to JS
    kOk,        // accepted; status(), truncated_at()
    kRejected,  // the status is not in the ranges; the status line is [0, status_end()) of the first read
    kEnd,       // the FIN before any byte: closed without a response
  };
  // `ranges`: [lo, hi, ...]; empty: 200-299.
  explicit PlainJudge(const std::vector<int32_t>* ranges) : ranges_(ranges) {}
  // The next read, p[0, n), n > 0.
  Verdict Read(const uint8_t* p, size_t n);
  // The server's FIN (after every read): kOk, or kEnd before any byte.
  Verdict Fin();
  int status() const { return status_; }
  size_t status_end() const { return status_end_; }
  // -1, or the body bytes received when the FIN came before Content-Length (as an event's int).
  int truncated_at() const { return truncated_at_; }
  // Reading the body (past the head): for the connector's state().
  bool in_body() const { return stage_ == kBodyLength || stage_ == kBodyToFin; }

 private:
  enum Stage : uint8_t { kHead, kBodyLength, kBodyToFin, kDone };
  const std::vector<int32_t>* ranges_;
  Stage stage_ = kHead;
  int status_ = 0;
  size_t status_end_ = 0;
  int truncated_at_ = -1;
  int64_t remaining_ = 0;  // kBodyLength: body bytes still to come
  int64_t received_ = 0;   // body bytes counted (up to the Content-Length)
};

bool StatusAccepted(int status, const std::vector<int32_t>& ranges);

// parsePlainHttpHead(bytes: Uint8Array) -> 'incomplete' | 'not plain' | { status, statusEnd,
// bodyStart, noBody, contentLength }: the parser alone, for the property test.
Napi::Value JsParsePlainHttpHead(const Napi::CallbackInfo& info);

// judgePlainHttp(reads: Uint8Array[], statusRanges: Int32Array, fin: boolean) -> { verdict:
// 'more' | 'not plain' | 'ok' | 'rejected' | 'end', read (the read it was decided on, -1 at the
// FIN), status, statusEnd, truncatedAt }: PlainJudge over those reads, for the differential test.
Napi::Value JsJudgePlainHttp(const Napi::CallbackInfo& info);

}  // namespace vk
