// Progressive enhancement for the Events page: refresh the rows in place every few
// seconds; without JavaScript the page still works. A file, not an inline script, so
// the dashboard's Content-Security-Policy can refuse every inline script.
(function () {
  const body = document.getElementById("event-rows");
  if (!body) return;
  const url = new URL(window.location.href);
  url.searchParams.set("partial", "1");
  setInterval(async () => {
    try {
      const r = await fetch(url, { credentials: "same-origin" });
      if (r.ok) body.innerHTML = await r.text();
    } catch (e) {
      document.getElementById("live-status").textContent = "Live updates paused (connection lost).";
    }
  }, 3000);
})();
