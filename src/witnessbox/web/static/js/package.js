// The package page: follow the build's progress until the package is ready (or failed), then
// show its hash and the download link. Polls the package's JSON once a second while it builds.

const section = document.getElementById("package");

function show(pkg) {
  document.getElementById("package-progress").value = pkg.progress;
  document.getElementById("package-state").textContent =
    pkg.state === "building" ? `building, ${Math.round(pkg.progress * 100)}%` : pkg.state;
  section.dataset.state = pkg.state;
  if (pkg.error) {
    const error = document.getElementById("package-error");
    error.textContent = pkg.error;
    error.hidden = false;
  }
  if (pkg.state === "ready") {
    document.getElementById("package-download").href = pkg.download_url;
    document.getElementById("package-sha256").textContent = pkg.sha256;
    document.getElementById("package-size").textContent = pkg.size;
    document.getElementById("package-files").textContent = pkg.file_count;
    document.getElementById("package-ready").hidden = false;
  }
}

async function follow() {
  while (section.dataset.state === "queued" || section.dataset.state === "building") {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const answer = await fetch(`/api/v1/packages/${section.dataset.id}`, { headers: { accept: "application/json" } });
    if (!answer.ok) return;
    show(await answer.json());
  }
}

if (section) follow();
