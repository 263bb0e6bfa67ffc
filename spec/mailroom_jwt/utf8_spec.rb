# frozen_string_literal: true

RSpec.describe MailroomJWT::UTF8 do
  # GitLab's fixture: a Shift_JIS body under a header that claims ISO-8859-1.
  let(:text) { sample_email(body: "Service desk reply!\nピーター・ジョーンズ\n\n/label ~label2\nピーター・ジョーンズ\n") }

  it "keeps valid UTF-8 as it is, tagged UTF-8" do
    raw = text.b
    result = described_class.encode(raw)

    expect(result).to eq(text)
    expect(result.encoding).to eq(Encoding::UTF_8)
    expect(result).to be_valid_encoding
  end

  it "converts Shift_JIS mail to UTF-8 even when the header claims another charset" do
    result = described_class.encode(text.encode(Encoding::Shift_JIS).b)

    expect(result).to eq(text)
    expect(result).to be_valid_encoding
  end

  it "converts EUC-JP and GB18030 text" do
    expect(described_class.encode("日本語のメールです".encode("EUC-JP").b)).to eq("日本語のメールです")
    expect(described_class.encode("中文邮件测试，你好世界".encode("GB18030").b)).to eq("中文邮件测试，你好世界")
  end

  it "follows a declared charset when the bytes are good text in it" do
    korean = "Content-Type: text/plain; charset=\"euc-kr\"\n\n한국어 메일 테스트\n"

    expect(described_class.encode(korean.encode("EUC-KR").b)).to eq(korean)
  end

  it "uses a declared single-byte charset as the fallback" do
    latin = "Content-Type: text/plain; charset=iso-8859-1\n\ncafé crème\n"

    expect(described_class.encode(latin.encode("ISO-8859-1").b)).to eq(latin)
  end

  it "otherwise drops invalid bytes and NULs, as GitLab's clean does" do
    expect(described_class.encode("abc\xff\xfe\x00def".b)).to eq("abcdef")
  end

  it "does not change its argument" do
    raw = text.encode(Encoding::Shift_JIS).b.freeze
    described_class.encode(raw)

    expect(raw.encoding).to eq(Encoding::BINARY)
  end

  it "refuses what is not a String" do
    expect { described_class.encode(nil) }.to raise_error(ArgumentError)
  end
end
