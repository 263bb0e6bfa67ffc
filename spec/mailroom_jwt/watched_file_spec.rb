# frozen_string_literal: true

RSpec.describe MailroomJWT::WatchedFile do
  let(:path) { File.join(receiver_tmpdir, "watched") }
  let(:loads) { [] }
  let(:watched) do
    described_class.new(path) do |p|
      loads << p
      File.read(p)
    end
  end

  before { File.write(path, "one") }

  it "loads once while the file does not change" do
    3.times { expect(watched.value).to eq("one") }
    expect(loads.size).to eq(1)
  end

  it "loads again when the file is replaced (new inode)" do
    watched.value
    File.write("#{path}.new", "two")
    File.rename("#{path}.new", path)

    expect(watched.value).to eq("two")
    expect(loads.size).to eq(2)
  end

  it "loads again when the size or mtime changes" do
    watched.value
    File.write(path, "three")
    expect(watched.value).to eq("three")

    File.open(path, "r+") { |f| f.write("THREE") }
    File.utime(Time.now + 10, Time.now + 10, path)
    expect(watched.value).to eq("THREE")
    expect(loads.size).to eq(3)
  end

  it "does not cache a failed load: the next call tries again" do
    failing = described_class.new(path) { |_| raise MailroomJWT::SecretFileError, "bad" }
    expect { failing.value }.to raise_error(MailroomJWT::SecretFileError, "bad")
    expect { failing.value }.to raise_error(MailroomJWT::SecretFileError, "bad")
  end

  it "lets the loader say why a missing file fails, every time" do
    File.delete(path)
    expect { watched.value }.to raise_error(Errno::ENOENT)
    File.write(path, "back")
    expect(watched.value).to eq("back")
  end

  it "loads again after #reset" do
    watched.value
    watched.reset
    watched.value
    expect(loads.size).to eq(2)
  end

  it "needs a loader" do
    expect { described_class.new(path) }.to raise_error(ArgumentError)
  end
end
