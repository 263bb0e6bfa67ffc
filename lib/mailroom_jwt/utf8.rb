# frozen_string_literal: true

module MailroomJWT
  # Turns a raw email's bytes into a valid UTF-8 String, as GitLab's
  # Gitlab::EncodingHelper.encode_utf8 does before it queues the email:
  # valid UTF-8 is kept as it is; bytes in another charset are converted
  # when the charset can be told; what is left is cleaned (invalid bytes
  # and NULs dropped). GitLab detects the charset with ICU; this gem has no
  # such dependency and uses a small detector instead: the East Asian
  # multibyte charsets (Shift_JIS, EUC-JP, GB18030, Big5, EUC-KR) are tried
  # on the bytes and scored by how much of the result is text of that
  # script. A charset declared in the email (charset=...) wins when the
  # bytes are good text in it, and is the fallback for single-byte charsets.
  module UTF8
    MULTIBYTE = %w[Windows-31J EUC-JP GB18030 Big5 EUC-KR].map { |n| Encoding.find(n) }.freeze
    SCAN_LIMIT = 1 << 20 # bytes looked at to choose a charset
    CHARSET = /charset\s*=\s*"?([A-Za-z0-9_.:-]{1,40})/i.freeze
    GOOD = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u3000-\u303f\uff01-\uff5e]/.freeze
    BAD = /[\u0080-\u009f\ue000-\uf8ff\uff61-\uff9f\ufffd]/.freeze

    module_function

    def encode(raw)
      raise ArgumentError, "raw email must be a String, got #{raw.class}" unless raw.is_a?(String)

      utf8 = raw.b.force_encoding(Encoding::UTF_8)
      return utf8 if utf8.valid_encoding?

      encoding = detect(raw.b)
      return clean(utf8) unless encoding

      raw.b.force_encoding(encoding).encode(Encoding::UTF_8, invalid: :replace, undef: :replace, replace: "")
          .delete("\0")
    end

    # The charset the bytes most likely are in, or nil.
    def detect(bytes)
      sample = bytes.byteslice(0, SCAN_LIMIT)
      stated = declared(sample)
      return stated if stated && MULTIBYTE.include?(stated) && score(sample, stated)

      best = nil
      best_score = 0
      MULTIBYTE.each do |enc|
        score = score(sample, enc)
        if score && score > best_score
          best = enc
          best_score = score
        end
      end
      best || stated
    end

    # Share of the non-ASCII characters that are text of the script, minus
    # a penalty for those that rarely are (C1 controls, private use,
    # half-width katakana); nil when the bytes are not valid in enc.
    def score(sample, enc)
      text = sample.dup.force_encoding(enc)
      # A sample cut in the middle of a character is still fine.
      text = text.byteslice(0, text.bytesize - 1).force_encoding(enc) until text.valid_encoding? || text.bytesize < sample.bytesize - 3
      return nil unless text.valid_encoding?

      utf8 = text.encode(Encoding::UTF_8)
      non_ascii = utf8.each_char.count { |c| c.ord > 0x7f }
      return nil if non_ascii.zero?

      good = utf8.scan(GOOD).size
      bad = utf8.scan(BAD).size
      ratio = (good - (3 * bad)).fdiv(non_ascii)
      ratio >= 0.5 ? ratio : nil
    rescue EncodingError
      nil
    end

    def declared(sample)
      name = sample.force_encoding(Encoding::BINARY)[CHARSET, 1]
      return nil unless name

      enc = Encoding.find(name)
      return nil if enc.dummy? || !enc.ascii_compatible? || enc == Encoding::UTF_8

      sample.dup.force_encoding(enc).valid_encoding? ? enc : nil
    rescue ArgumentError
      nil
    end

    def clean(utf8)
      utf8.scrub("").delete("\0")
    end
  end
end
