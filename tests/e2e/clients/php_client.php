<?php
// php_client.php VIA OP ARGS... - PHP's two network stacks as the matrix tests
// drive them. VIA is "curl" (the curl extension: libcurl, loaded by PHP with
// RTLD_DEEPBIND) or "stream" (PHP's own streams: file_get_contents,
// stream_socket_client). One line of output per request.
//   get URL          "ok STATUS LENGTH" or "fail CODE"
//   post URL BODY    the same, for a POST carrying BODY
//   echo HOST PORT   stream: sends "hello-late" on a raw socket and prints
//                    what comes back; curl: a request shaped so that its echo
//                    reads as "HTTP/1.1 200 OK" with the body "hello-late"
//   hold N HOST PORT N connections open at once; one word each: "ok" or
//                    "fail CODE" (curl: curl_multi, 1.5 s per transfer)
$via = $argv[1];
$op = $argv[2];

function curl_req($url, $post = null) {
    $h = curl_init($url);
    curl_setopt($h, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($h, CURLOPT_TIMEOUT, 20);
    if ($post !== null) {
        curl_setopt($h, CURLOPT_POST, true);
        curl_setopt($h, CURLOPT_POSTFIELDS, $post);
    }
    $body = curl_exec($h);
    if ($body === false)
        return "fail " . curl_errno($h);
    return "ok " . curl_getinfo($h, CURLINFO_RESPONSE_CODE) . " " . strlen($body);
}

function stream_req($url, $post = null) {
    $opts = ['http' => ['timeout' => 20, 'ignore_errors' => true]];
    if ($post !== null) {
        $opts['http']['method'] = 'POST';
        $opts['http']['header'] = "Content-Type: application/octet-stream\r\n";
        $opts['http']['content'] = $post;
    }
    $body = @file_get_contents($url, false, stream_context_create($opts));
    if ($body === false) {
        $e = error_get_last();
        return "fail " . (strpos($e['message'] ?? '', 'refused') !== false ? 'refused' : 'other');
    }
    preg_match('/^HTTP\/\S+ (\d+)/', $http_response_header[0], $m);
    return "ok " . $m[1] . " " . strlen($body);
}

switch ($op) {
case 'get':
case 'post':
    $post = $op === 'post' ? $argv[4] : null;
    echo ($via === 'curl' ? curl_req($argv[3], $post) : stream_req($argv[3], $post)), "\n";
    break;
case 'echo':
    [$host, $port] = [$argv[3], $argv[4]];
    if ($via === 'curl') {
        $h = curl_init("http://$host:$port/");
        curl_setopt($h, CURLOPT_RETURNTRANSFER, true);
        curl_setopt($h, CURLOPT_TIMEOUT, 10);
        curl_setopt($h, CURLOPT_CUSTOMREQUEST, 'HTTP/1.1');
        curl_setopt($h, CURLOPT_REQUEST_TARGET, '200 OK');
        curl_setopt($h, CURLOPT_POSTFIELDS, 'hello-late');
        $body = curl_exec($h);
        echo $body === false ? "fail " . curl_errno($h) : "ok $body", "\n";
    } else {
        $s = @stream_socket_client("tcp://$host:$port", $errno, $errstr, 10);
        if (!$s) { echo "fail $errno\n"; break; }
        fwrite($s, 'hello-late');
        echo "ok ", fread($s, 100), "\n";
    }
    break;
case 'hold':
    [$n, $host, $port] = [(int)$argv[3], $argv[4], $argv[5]];
    $out = [];
    if ($via === 'curl') {
        $m = curl_multi_init();
        $hs = [];
        for ($i = 0; $i < $n; $i++) {
            $hs[$i] = curl_init("http://$host:$port/");
            curl_setopt($hs[$i], CURLOPT_RETURNTRANSFER, true);
            curl_setopt($hs[$i], CURLOPT_TIMEOUT_MS, 1500);
            curl_multi_add_handle($m, $hs[$i]);
        }
        do {
            curl_multi_exec($m, $running);
            curl_multi_select($m, 0.1);
        } while ($running > 0);
        // A transfer that connected waited for the hanging server: 28 (timeout).
        while ($info = curl_multi_info_read($m))
            $out[] = $info['result'] === CURLE_OPERATION_TIMEDOUT ? "ok" : "fail " . $info['result'];
    } else {
        $keep = [];
        for ($i = 0; $i < $n; $i++) {
            $s = @stream_socket_client("tcp://$host:$port", $errno, $errstr, 5);
            $out[] = $s ? "ok" : "fail $errno";
            $keep[] = $s;
        }
    }
    sort($out);
    echo implode(",", $out), "\n";
    break;
}
