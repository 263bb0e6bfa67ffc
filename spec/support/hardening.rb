# frozen_string_literal: true

require "timeout"

# Helpers for the hardening specs (spec/mailroom_jwt/key/*_spec.rb and the
# delivery load and fault specs).
module HardeningHelpers
  # The loop counts of the hardening specs are written at full size; the runs
  # under valgrind and GC.stress (rakelib/memcheck.rake, rakelib/gc.rake) set
  # MAILROOM_JWT_SCALE to run the same code with fewer iterations.
  def self.scale
    Float(ENV.fetch("MAILROOM_JWT_SCALE", "1"))
  end

  def scaled(full, min: 1)
    [(full * HardeningHelpers.scale).ceil, min].max
  end

  B64URL = [*"A".."Z", *"a".."z", *"0".."9", "-", "_"].freeze

  # One random mutation of a token, as an attacker or a broken proxy would
  # make it: a bit flip, an inserted or removed character, swapped,
  # duplicated or dropped segments, truncation, or a huge input.
  def mutate(token, rng)
    bytes = token.b
    case rng.rand(12)
    when 0, 1 # flip one bit of one byte
      i = rng.rand(bytes.bytesize)
      bytes.setbyte(i, bytes.getbyte(i) ^ (1 << rng.rand(8)))
      bytes
    when 2 # insert a base64url character, a dot or any byte
      c = [B64URL.sample(random: rng), ".", rng.rand(256).chr].sample(random: rng)
      bytes.insert(rng.rand(bytes.bytesize + 1), c.b)
    when 3 # remove one character
      bytes.slice!(rng.rand(bytes.bytesize))
      bytes
    when 4 # swap two segments
      parts = bytes.split(".", -1)
      i, j = [0, 1, 2].sample(2, random: rng)
      parts[i], parts[j] = parts[j], parts[i] if parts.size == 3
      parts.join(".")
    when 5 # duplicate or drop a segment
      parts = bytes.split(".", -1)
      i = rng.rand(parts.size)
      rng.rand(2).zero? ? parts.insert(i, parts[i]) : parts.delete_at(i)
      parts.join(".")
    when 6 # truncate
      bytes[0, rng.rand(bytes.bytesize)]
    when 7 # replace one character by another base64url character
      i = rng.rand(bytes.bytesize)
      bytes[i] = (B64URL - [bytes[i]]).sample(random: rng)
      bytes
    when 8 # huge: the token repeated, or padded past the token cap (an input
      # that is already huge is truncated instead, so that mutations applied
      # one after the other stay around a megabyte, not a terabyte)
      if bytes.bytesize > 20_000
        bytes[0, rng.rand(bytes.bytesize)]
      elsif rng.rand(2).zero?
        ([bytes] * rng.rand(2..200)).join(".")
      else
        bytes + ("A" * rng.rand(16_000..1_100_000))
      end
    when 9 # a segment replaced by random base64url
      parts = bytes.split(".", -1)
      parts[rng.rand(parts.size)] = Array.new(rng.rand(0..80)) { B64URL.sample(random: rng) }.join
      parts.join(".")
    when 10 # random bytes appended or prepended
      junk = rng.bytes(rng.rand(1..16))
      rng.rand(2).zero? ? junk + bytes : bytes + junk
    else # several mutations at once
      3.times.reduce(bytes) { |t, _| t.empty? ? t : mutate(t, rng) }
    end
  end

  # Runs the block and returns what it returned or raised; anything raised
  # that is not in the gem's hierarchy is re-raised, so the example fails
  # with the foreign error's own message and backtrace.
  def outcome
    [:ok, yield]
  rescue MailroomJWT::Error => e
    [:error, e]
  end

  # Runs the block in a forked child and returns its result (Marshal'ed
  # through a pipe). If the child has not answered after timeout seconds it
  # is killed and this raises Timeout::Error: a call that blocks holding the
  # GVL cannot hang the suite. The block's errors come back as
  # [:raised, class name, message].
  def in_child(timeout: 10)
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      result = begin
        [:returned, yield]
      rescue Exception => e # rubocop:disable Lint/RescueException
        [:raised, e.class.name, e.message]
      end
      writer.write(Marshal.dump(result))
      writer.close
      exit!(0)
    end
    writer.close
    unless reader.wait_readable(timeout)
      Process.kill(:KILL, pid)
      Process.wait(pid)
      raise Timeout::Error, "the child did not answer within #{timeout} s"
    end
    data = reader.read
    Process.wait(pid)
    Marshal.load(data) # rubocop:disable Security/MarshalLoad
  ensure
    reader&.close unless reader&.closed?
  end
end

RSpec.configure do |config|
  config.include HardeningHelpers
end
