# http_nethttp.rb get|post URL - one request with ruby's Net::HTTP; prints
# "PID STATUS" or "PID fail EXCEPTION".
require 'net/http'
op, url = ARGV
uri = URI(url)
begin
  r = Net::HTTP.start(uri.host, uri.port, open_timeout: 20, read_timeout: 20) do |h|
    op == 'post' ? h.post(uri.path, 'x' * 100) : h.get(uri.path)
  end
  puts "#{Process.pid} #{r.code}"
rescue => e
  puts "#{Process.pid} fail #{e.class}"
end
