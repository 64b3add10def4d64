# http_lwp.pl get|post URL - one request with perl's LWP::UserAgent; prints
# "PID STATUS" or "PID fail MESSAGE" (LWP reports a failed connect as its own 500).
use strict;
use warnings;
use LWP::UserAgent;
my ($op, $url) = @ARGV;
my $ua = LWP::UserAgent->new(timeout => 20);
my $r = $op eq 'post' ? $ua->post($url, Content => 'x' x 100) : $ua->get($url);
if ($r->header('Client-Warning') && $r->header('Client-Warning') eq 'Internal response') {
    my ($msg) = $r->message =~ /^(\S+(?: \S+)?)/;
    print "$$ fail $msg\n";
} else {
    print "$$ ", $r->code, "\n";
}
